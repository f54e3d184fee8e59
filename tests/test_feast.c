/* feast/: entity key serialization, MurmurHash3, Python float repr and Value -> JSON.
 * Expected bytes come from feast-compat.md (§3.5, §3.8, §4.4, §6.4), Feast's own tests quoted
 * there, published MurmurHash3 vectors, CPython's repr() and protobuf-c's packer. */
#include "test.h"

#include "core/buf.h"
#include "feast/feast.h"
#include "feast/types/Value.pb-c.h"

/* ASSERT_OK tests its err argument for NULL, so it is given a pointer variable, not &e. */
#define DECL_ERR struct ferry_err err_store_ = {0}, *e = &err_store_

static struct feast_scalar sint(int vtype, int64_t v) { return (struct feast_scalar){.vtype = vtype, .i = v}; }
static struct feast_scalar sstr(int vtype, const char *s)
{
    return (struct feast_scalar){.vtype = vtype, .s = s, .n = strlen(s)};
}

/* ---- entity keys (§3) ---- */

TEST(key_v3_driver_id_golden)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"driver_id"};
    struct feast_scalar v[] = {sint(FEAST_VT_INT64, 1001)};
    ASSERT_OK(feast_key_serialize(&b, 3, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 "
                                 "e903000000000000");
    fbuf_cleanup(&b);
}

TEST(key_v1_driver_id_golden_packs_int64_in_4_bytes)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"driver_id"};
    struct feast_scalar v[] = {sint(FEAST_VT_INT64, 1001)};
    ASSERT_OK(feast_key_serialize(&b, 1, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "02000000 6472697665725f6964 04000000 04000000 e9030000");
    fbuf_cleanup(&b);
}

TEST(key_v2_has_no_count_or_name_length_but_8_byte_int64)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"driver_id"};
    struct feast_scalar v[] = {sint(FEAST_VT_INT64, 1001)};
    ASSERT_OK(feast_key_serialize(&b, 2, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "02000000 6472697665725f6964 04000000 08000000 e903000000000000");
    fbuf_cleanup(&b);
}

TEST(key_v1_rejects_int64_outside_int32)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"driver_id"};
    struct feast_scalar v[] = {sint(FEAST_VT_INT64, INT64_C(2147483648))};
    ASSERT_EQ_INT(feast_key_serialize(&b, 1, 1, names, v, e), FERRY_EINVAL);
    ASSERT_CONTAINS(e->msg, "driver_id");
    fbuf_reset(&b);
    v[0].i = INT32_MIN; /* the boundary still fits */
    ASSERT_OK(feast_key_serialize(&b, 1, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data + b.len - 4, 4, "00000080");
    fbuf_cleanup(&b);
}

TEST(key_dummy_entity_golden)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {FEAST_DUMMY_ENTITY_ID};
    struct feast_scalar v[] = {sstr(FEAST_VT_STRING, "")};
    ASSERT_OK(feast_key_serialize(&b, 3, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "01000000 02000000 0a000000 5f5f64756d6d795f6964 02000000 00000000");
    fbuf_cleanup(&b);
}

TEST(key_int32_golden_from_test_redis)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"entity"};
    struct feast_scalar v[] = {sint(FEAST_VT_INT32, 1)};
    ASSERT_OK(feast_key_serialize(&b, 3, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "01000000 02000000 06000000 656e74697479 03000000 04000000 01000000");
    fbuf_cleanup(&b);
}

TEST(key_sorts_names_bytewise_and_values_follow)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"zebra", "alpha", "beta"};
    struct feast_scalar v[] = {sstr(FEAST_VT_STRING, "z"), sint(FEAST_VT_INT64, 1), sint(FEAST_VT_INT32, 2)};
    ASSERT_OK(feast_key_serialize(&b, 3, 3, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len,
                  "03000000"
                  "02000000 05000000 616c706861"  /* alpha */
                  "02000000 04000000 62657461"    /* beta */
                  "02000000 05000000 7a65627261"  /* zebra */
                  "04000000 08000000 0100000000000000"
                  "03000000 04000000 02000000"
                  "02000000 01000000 7a");
    fbuf_reset(&b);
    /* v2: the same order, without count and lengths */
    ASSERT_OK(feast_key_serialize(&b, 2, 3, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len,
                  "02000000 616c706861 02000000 62657461 02000000 7a65627261"
                  "04000000 08000000 0100000000000000 03000000 04000000 02000000 02000000 01000000 7a");
    fbuf_cleanup(&b);
}

TEST(key_uppercase_sorts_before_lowercase_and_utf8_length_is_bytes)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    /* 'B' (0x42) < 'a' (0x61); "é" is 2 UTF-8 bytes and sorts after ASCII */
    const char *names[] = {"\xc3\xa9", "a", "B"};
    struct feast_scalar v[] = {sint(FEAST_VT_INT32, 3), sint(FEAST_VT_INT32, 2), sint(FEAST_VT_INT32, 1)};
    ASSERT_OK(feast_key_serialize(&b, 3, 3, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len,
                  "03000000 02000000 01000000 42 02000000 01000000 61 02000000 02000000 c3a9"
                  "03000000 04000000 01000000 03000000 04000000 02000000 03000000 04000000 03000000");
    fbuf_cleanup(&b);
}

TEST(key_bytes_and_timestamp_values)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"k"};
    struct feast_scalar v[] = {{.vtype = FEAST_VT_BYTES, .s = "\x00\xff", .n = 2}};
    ASSERT_OK(feast_key_serialize(&b, 3, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "01000000 02000000 01000000 6b 01000000 02000000 00ff");
    fbuf_reset(&b);
    v[0] = sint(FEAST_VT_UNIX_TIMESTAMP, 1640991600); /* printf %x: 61cf8b70 */
    ASSERT_OK(feast_key_serialize(&b, 3, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "01000000 02000000 01000000 6b 08000000 08000000 708bcf6100000000");
    fbuf_reset(&b);
    v[0] = sint(FEAST_VT_INT64, -2);
    ASSERT_OK(feast_key_serialize(&b, 3, 1, names, v, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "01000000 02000000 01000000 6b 04000000 08000000 feffffffffffffff");
    fbuf_cleanup(&b);
}

TEST(key_rejects_non_key_types_and_bad_version)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 1024);
    const char *names[] = {"x"};
    struct feast_scalar v[] = {sint(FEAST_VT_DOUBLE, 1)};
    ASSERT_EQ_INT(feast_key_serialize(&b, 3, 1, names, v, e), FERRY_EINVAL);
    ASSERT_CONTAINS(e->msg, "Float64");
    v[0] = sint(FEAST_VT_INT64, 1);
    ASSERT_EQ_INT(feast_key_serialize(&b, 4, 1, names, v, e), FERRY_EINVAL);
    fbuf_cleanup(&b);
}

TEST(key_zero_keys_v3_is_a_zero_count)
{
    struct fbuf b;
    DECL_ERR;
    fbuf_init(&b, 64);
    ASSERT_OK(feast_key_serialize(&b, 3, 0, NULL, NULL, e), e);
    ASSERT_EQ_HEX(b.data, b.len, "00000000");
    fbuf_cleanup(&b);
}

/* ---- MurmurHash3 (§6.4) ---- */

static void hash_le(const char *s, unsigned char out[4])
{
    uint32_t h = feast_murmur3_32(s, strlen(s), 0);
    for (int i = 0; i < 4; i++)
        out[i] = (unsigned char)(h >> (8 * i));
}

TEST(murmur3_redis_field_names_golden)
{
    unsigned char f[4];
    hash_le("feature_view_1:feature_10", f);
    ASSERT_EQ_HEX(f, 4, "266d5f39");
    hash_le("feature_view_1:feature_11", f);
    ASSERT_EQ_HEX(f, 4, "c3379abf");
    hash_le("feature_view_1:feature_12", f);
    ASSERT_EQ_HEX(f, 4, "7772b564");
    ASSERT_EQ_INT(feast_murmur3_32("driver_hourly_stats:conv_rate", 29, 0), 0xdae36061u);
    ASSERT_EQ_INT(feast_murmur3_32("driver_hourly_stats:acc_rate", 28, 0), 0xad585efau);
    ASSERT_EQ_INT(feast_murmur3_32("driver_hourly_stats:avg_daily_trips", 35, 0), 0xa3e5a518u);
}

TEST(murmur3_published_vectors)
{
    /* SMHasher / widely published x86_32 vectors: tails of 0..3 bytes and seeds */
    ASSERT_EQ_INT(feast_murmur3_32("", 0, 0), 0);
    ASSERT_EQ_INT(feast_murmur3_32("", 0, 1), 0x514e28b7u);
    ASSERT_EQ_INT(feast_murmur3_32("", 0, 0xffffffffu), 0x81f16f39u);
    ASSERT_EQ_INT(feast_murmur3_32("\0\0\0\0", 4, 0), 0x2362f9deu);
    ASSERT_EQ_INT(feast_murmur3_32("a", 1, 0x9747b28cu), 0x7fa09ea6u);
    ASSERT_EQ_INT(feast_murmur3_32("aa", 2, 0x9747b28cu), 0x5d211726u);
    ASSERT_EQ_INT(feast_murmur3_32("aaa", 3, 0x9747b28cu), 0x283e0130u);
    ASSERT_EQ_INT(feast_murmur3_32("Hello, world!", 13, 0x9747b28cu), 0x24884cbau);
    ASSERT_EQ_INT(feast_murmur3_32("The quick brown fox jumps over the lazy dog", 43, 0x9747b28cu),
                  0x2fa826cdu);
}

/* ---- Python float repr ---- */

static void repr_is(double d, const char *want)
{
    char buf[FEAST_PYFLOAT_BUF];
    const char *got = feast_py_float_repr(d, buf);
    if (strcmp(got, want) != 0)
        test_fail(__FILE__, __LINE__, "repr(%.17g): got \"%s\", expected \"%s\"", d, got, want);
}

TEST(py_float_repr_matches_cpython)
{
    /* expected strings are CPython 3's repr() of the same doubles */
    repr_is(0.0, "0.0");
    repr_is(-0.0, "-0.0");
    repr_is(1.0, "1.0");
    repr_is(-2.5, "-2.5");
    repr_is(0.1, "0.1");
    repr_is(1.0 / 3, "0.3333333333333333");
    repr_is(100.0, "100.0");
    repr_is(12345.678, "12345.678");
    repr_is((double)0.7f, "0.699999988079071");
    repr_is(0.7037263512611389, "0.7037263512611389");
    repr_is(1e15, "1000000000000000.0");
    repr_is(9007199254740992.0, "9007199254740992.0");
    repr_is(1e16, "1e+16");
    repr_is(1.5e16, "1.5e+16");
    repr_is(123456789012345678.0, "1.2345678901234568e+17");
    repr_is(0.0001, "0.0001");
    repr_is(0.00012, "0.00012");
    repr_is(0.00001, "1e-05");
    repr_is(1.5e-05, "1.5e-05");
    repr_is(5e-324, "5e-324");
    repr_is(1.7976931348623157e308, "1.7976931348623157e+308");
    repr_is(-1e100, "-1e+100");
    repr_is(1.0 / 0.0, "inf");
    repr_is(-1.0 / 0.0, "-inf");
    repr_is(0.0 / 0.0, "nan");
}

/* ---- Value -> JSON (§8.3) ---- */

static const char *json_of(const Feast__Types__Value *v)
{
    static unsigned char packed[4096];
    size_t n = feast__types__value__pack(v, packed);
    struct fbuf out;
    DECL_ERR;
    fbuf_init(&out, 1 << 20);
    ASSERT_OK(feast_value_to_json(packed, n, &out, e), e);
    static char result[4096];
    snprintf(result, sizeof result, "%s", out.data ? out.data : "");
    fbuf_cleanup(&out);
    return result;
}

static const char *json_of_bytes(const char *hex_bytes, size_t n)
{
    struct fbuf out;
    DECL_ERR;
    fbuf_init(&out, 1 << 20);
    ASSERT_OK(feast_value_to_json(hex_bytes, n, &out, e), e);
    static char result[4096];
    snprintf(result, sizeof result, "%s", out.data ? out.data : "");
    fbuf_cleanup(&out);
    return result;
}

TEST(json_scalars)
{
    Feast__Types__Value v;
    feast__types__value__init(&v);
    v.val_case = FEAST__TYPES__VALUE__VAL_FLOAT_VAL;
    v.float_val = 0.7f;
    ASSERT_EQ_STR(json_of(&v), "0.699999988079071");
    v.val_case = FEAST__TYPES__VALUE__VAL_DOUBLE_VAL;
    v.double_val = 0.7037263512611389;
    ASSERT_EQ_STR(json_of(&v), "0.7037263512611389");
    v.double_val = 2.0;
    ASSERT_EQ_STR(json_of(&v), "2.0");
    v.val_case = FEAST__TYPES__VALUE__VAL_INT64_VAL;
    v.int64_val = 308;
    ASSERT_EQ_STR(json_of(&v), "308");
    v.int64_val = INT64_MIN;
    ASSERT_EQ_STR(json_of(&v), "-9223372036854775808");
    v.val_case = FEAST__TYPES__VALUE__VAL_INT32_VAL;
    v.int32_val = -7;
    ASSERT_EQ_STR(json_of(&v), "-7");
    v.val_case = FEAST__TYPES__VALUE__VAL_BOOL_VAL;
    v.bool_val = 1;
    ASSERT_EQ_STR(json_of(&v), "true");
    v.bool_val = 0;
    ASSERT_EQ_STR(json_of(&v), "false");
    v.val_case = FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_VAL;
    v.unix_timestamp_val = 1640991600;
    ASSERT_EQ_STR(json_of(&v), "1640991600");
}

TEST(json_strings_escape_like_python_and_keep_utf8)
{
    Feast__Types__Value v;
    feast__types__value__init(&v);
    v.val_case = FEAST__TYPES__VALUE__VAL_STRING_VAL;
    v.string_val = "a\"b\\c\n\t\x01 \xc3\xa9/";
    /* json.dumps(..., ensure_ascii=False) */
    ASSERT_EQ_STR(json_of(&v), "\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9/\"");
    v.string_val = "";
    ASSERT_EQ_STR(json_of(&v), "\"\"");
    v.val_case = FEAST__TYPES__VALUE__VAL_JSON_VAL;
    v.json_val = "{\"a\":1}";
    ASSERT_EQ_STR(json_of(&v), "\"{\\\"a\\\":1}\"");
}

TEST(json_bytes_are_base64)
{
    Feast__Types__Value v;
    feast__types__value__init(&v);
    v.val_case = FEAST__TYPES__VALUE__VAL_BYTES_VAL;
    const char *cases[][2] = {{"", "\"\""}, {"f", "\"Zg==\""}, {"fo", "\"Zm8=\""}, {"foo", "\"Zm9v\""},
                              {"foob", "\"Zm9vYg==\""}, {"fooba", "\"Zm9vYmE=\""},
                              {"foobar", "\"Zm9vYmFy\""}}; /* RFC 4648 §10 */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v.bytes_val.data = (uint8_t *)cases[i][0];
        v.bytes_val.len = strlen(cases[i][0]);
        ASSERT_EQ_STR(json_of(&v), cases[i][1]);
    }
    v.bytes_val.data = (uint8_t *)"\xff\xfe";
    v.bytes_val.len = 2;
    ASSERT_EQ_STR(json_of(&v), "\"//4=\"");
}

TEST(json_lists)
{
    Feast__Types__Value v;
    feast__types__value__init(&v);
    Feast__Types__FloatList fl = FEAST__TYPES__FLOAT_LIST__INIT;
    float fv[] = {0.5f, 0.7f};
    fl.n_val = 2;
    fl.val = fv;
    v.val_case = FEAST__TYPES__VALUE__VAL_FLOAT_LIST_VAL;
    v.float_list_val = &fl;
    ASSERT_EQ_STR(json_of(&v), "[0.5,0.699999988079071]");

    Feast__Types__Int64List il = FEAST__TYPES__INT64_LIST__INIT;
    int64_t iv[] = {1, -2, 308};
    il.n_val = 3;
    il.val = iv;
    v.val_case = FEAST__TYPES__VALUE__VAL_INT64_LIST_VAL;
    v.int64_list_val = &il;
    ASSERT_EQ_STR(json_of(&v), "[1,-2,308]");
    v.val_case = FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_LIST_VAL;
    v.unix_timestamp_list_val = &il;
    ASSERT_EQ_STR(json_of(&v), "[1,-2,308]");
    il.n_val = 0;
    ASSERT_EQ_STR(json_of(&v), "[]");

    Feast__Types__StringList sl = FEAST__TYPES__STRING_LIST__INIT;
    char *sv[] = {"a", "", "\""};
    sl.n_val = 3;
    sl.val = sv;
    v.val_case = FEAST__TYPES__VALUE__VAL_STRING_LIST_VAL;
    v.string_list_val = &sl;
    ASSERT_EQ_STR(json_of(&v), "[\"a\",\"\",\"\\\"\"]");

    Feast__Types__BoolList bl = FEAST__TYPES__BOOL_LIST__INIT;
    protobuf_c_boolean bv[] = {1, 0};
    bl.n_val = 2;
    bl.val = bv;
    v.val_case = FEAST__TYPES__VALUE__VAL_BOOL_LIST_VAL;
    v.bool_list_val = &bl;
    ASSERT_EQ_STR(json_of(&v), "[true,false]");

    Feast__Types__BytesList byl = FEAST__TYPES__BYTES_LIST__INIT;
    ProtobufCBinaryData byv[] = {{3, (uint8_t *)"foo"}, {0, NULL}};
    byl.n_val = 2;
    byl.val = byv;
    v.val_case = FEAST__TYPES__VALUE__VAL_BYTES_LIST_VAL;
    v.bytes_list_val = &byl;
    ASSERT_EQ_STR(json_of(&v), "[\"Zm9v\",\"\"]");

    Feast__Types__DoubleList dl = FEAST__TYPES__DOUBLE_LIST__INIT;
    double dv[] = {1e16, 0.0 / 0.0};
    dl.n_val = 2;
    dl.val = dv;
    v.val_case = FEAST__TYPES__VALUE__VAL_DOUBLE_LIST_VAL;
    v.double_list_val = &dl;
    ASSERT_EQ_STR(json_of(&v), "[1e+16,null]"); /* NaN: documented as null */
}

TEST(json_map_and_nested_values)
{
    Feast__Types__Value inner;
    feast__types__value__init(&inner);
    inner.val_case = FEAST__TYPES__VALUE__VAL_INT64_VAL;
    inner.int64_val = 5;
    Feast__Types__Map__ValEntry ent = FEAST__TYPES__MAP__VAL_ENTRY__INIT;
    ent.key = "k";
    ent.value = &inner;
    Feast__Types__Map__ValEntry *ents[] = {&ent};
    Feast__Types__Map m = FEAST__TYPES__MAP__INIT;
    m.n_val = 1;
    m.val = ents;
    Feast__Types__Value v;
    feast__types__value__init(&v);
    v.val_case = FEAST__TYPES__VALUE__VAL_MAP_VAL;
    v.map_val = &m;
    ASSERT_EQ_STR(json_of(&v), "{\"k\":5}");

    Feast__Types__Value empty;
    feast__types__value__init(&empty);
    Feast__Types__Value *items[] = {&inner, &empty};
    Feast__Types__RepeatedValue rv = FEAST__TYPES__REPEATED_VALUE__INIT;
    rv.n_val = 2;
    rv.val = items;
    v.val_case = FEAST__TYPES__VALUE__VAL_LIST_VAL;
    v.list_val = &rv;
    ASSERT_EQ_STR(json_of(&v), "[5,null]");
}

TEST(json_null_forms_and_corrupt_input)
{
    ASSERT_EQ_STR(json_of_bytes("", 0), "null");            /* unset Value: 0 bytes */
    ASSERT_EQ_STR(json_of_bytes("\x98\x01\x00", 3), "null"); /* null_val */
    ASSERT_EQ_STR(json_of_bytes("\x20\xb4\x02", 3), "308");  /* §4.4 int64_val 308 */
    ASSERT_EQ_STR(json_of_bytes("\x35\x00\x00\x00\x3f", 5), "0.5");
    struct fbuf out;
    DECL_ERR;
    fbuf_init(&out, 1024);
    ASSERT_EQ_INT(feast_value_to_json("\x12\x05" "ab", 4, &out, e), FERRY_EINVAL); /* truncated */
    fbuf_cleanup(&out);
}
