/* core/: bounded buffers, error table, SQL identifier quoting. */
#include "test.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

TEST(buf_limit_frees_and_fails)
{
    struct fbuf b;
    fbuf_init(&b, 8);
    ASSERT_EQ_INT(fbuf_adds(&b, "12345678"), 0);
    ASSERT_EQ_INT(b.len, 8);
    ASSERT_EQ_INT(fbuf_addc(&b, 'x'), FERRY_ELIMIT);
    ASSERT_TRUE(b.data == NULL);
    ASSERT_EQ_INT(b.len, 0);
}

TEST(buf_varint_matches_protobuf)
{
    struct fbuf b;
    fbuf_init(&b, 64);
    fbuf_add_varint(&b, 308);          /* b4 02, from feast-compat §4.4 */
    fbuf_add_varint(&b, UINT64_MAX);   /* -1 as int64: ff*9 01 */
    ASSERT_EQ_HEX(b.data, b.len, "b402 ffffffffffffffffff01");
    fbuf_cleanup(&b);
}

TEST(err_table_maps_codes)
{
    ASSERT_EQ_STR(ferry_err_name(FERRY_ECONFIG), "CONFIG");
    ASSERT_EQ_INT(ferry_err_exit_status(FERRY_EUSAGE), 2);
    ASSERT_EQ_INT(ferry_err_exit_status(FERRY_ECONFIG), 3);
    ASSERT_EQ_INT(ferry_err_http_status(FERRY_ENOTFOUND), 404);
    struct ferry_err e;
    ASSERT_EQ_INT(ferry_errf(&e, FERRY_EINVAL, "bad %s", "x"), FERRY_EINVAL);
    ferry_err_prefix(&e, "view %s: ", "v");
    ASSERT_EQ_STR(e.msg, "view v: bad x");
}

TEST(sql_quote_ident_doubles_quotes)
{
    struct fbuf b;
    fbuf_init(&b, 256);
    sql_quote_ident(&b, "my\"table");
    fbuf_addc(&b, ' ');
    sql_quote_literal(&b, "it's");
    ASSERT_EQ_STR(b.data, "\"my\"\"table\" 'it''s'");
    fbuf_cleanup(&b);
}
