/* feast/batch.c: schemas, row batches, the hand-written Value encoder, conversions to the declared
 * type and value_text. Every encoding is checked against golden bytes from feast-compat.md §4.4
 * or against protobuf-c's packer run on the same Value (an independent encoder). */
#include "test.h"

#include <math.h>

#include "core/time.h"
#include "feast/feast.h"
#include "feast/types/Value.pb-c.h"

/* ASSERT_OK tests its err argument for NULL, so it is given a pointer variable, not &e. */
#define DECL_ERR struct ferry_err err_store_ = {0}, *e = &err_store_

static struct feast_feature F(const char *name, int vt) { return (struct feast_feature){.name = (char *)name, .vtype = vt}; }

static void schema_for(struct feast_schema *s, struct feast_feature *keys, size_t nk,
                       struct feast_feature *feats, size_t nf, int version)
{
    DECL_ERR;
    char *ents[] = {"e"};
    struct feast_view v = {.name = "v", .entity_columns = keys, .nentity_columns = nk,
                           .features = feats, .nfeatures = nf, .entities = ents, .nentities = nk ? 1 : 0};
    ASSERT_OK(feast_schema_init(s, &v, version, e), e);
}

/* A one-feature, entity-less batch: each value gets its own row. */
struct one { struct feast_feature feat; struct feast_schema s; struct feast_batch b; };

/* Every one_init'ed batch of the running test, freed by ones_free() at its end (LSan checks). */
static struct one *ones[64];
static size_t nones;

static void ones_free(void)
{
    for (size_t i = 0; i < nones; i++) {
        feast_batch_cleanup(&ones[i]->b);
        feast_schema_cleanup(&ones[i]->s);
    }
    nones = 0;
}

static void one_init(struct one *o, int vtype)
{
    if (nones == sizeof ones / sizeof ones[0])
        test_fail(__FILE__, __LINE__, "too many batches in one test");
    ones[nones++] = o;
    o->feat = F("f", vtype);
    schema_for(&o->s, NULL, 0, &o->feat, 1, 3);
    ASSERT_EQ_INT(feast_batch_init(&o->b, &o->s, 4), 0);
}

static void one_begin(struct one *o) { ASSERT_EQ_INT(feast_row_begin(&o->b), 0); }

static const struct feast_batch_cell *one_end(struct one *o)
{
    DECL_ERR;
    ASSERT_OK(feast_row_end(&o->b, 0, FERRY_TIME_NONE, e), e);
    return feast_batch_cell(&o->b, o->b.nrows - 1, 0);
}

static const char *cell_val(const struct one *o, const struct feast_batch_cell *c)
{
    return o->b.bytes.data + c->val_off;
}

static char *cell_text(const struct one *o, const struct feast_batch_cell *c)
{
    if (c->text_len < 0)
        return NULL;
    static char buf[1024];
    memcpy(buf, o->b.bytes.data + c->text_off, (size_t)c->text_len);
    buf[c->text_len] = '\0';
    return buf;
}

static void to_hex(const void *p, size_t n, char *out)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

/* The cell's bytes must equal protobuf-c's packing of pv. */
#define ASSERT_CELL_PB(o, c, pv) assert_cell_pb(__LINE__, (o), (c), (pv))
static void assert_cell_pb(int line, const struct one *o, const struct feast_batch_cell *c,
                           const Feast__Types__Value *pv)
{
    static uint8_t want[1 << 16];
    static char hw[1 << 17], hg[1 << 17];
    size_t n = feast__types__value__get_packed_size(pv);
    if (n > sizeof want)
        test_fail(__FILE__, line, "test value too large");
    feast__types__value__pack(pv, want);
    to_hex(want, n, hw);
    to_hex(cell_val(o, c), c->val_len, hg);
    if (strcmp(hw, hg) != 0)
        test_fail(__FILE__, line, "Value bytes differ from protobuf-c:\n  got:      %s\n  expected: %s", hg, hw);
}

static Feast__Types__Value pbv(Feast__Types__Value__ValCase which)
{
    Feast__Types__Value v;
    feast__types__value__init(&v);
    v.val_case = which;
    return v;
}

/* ---- golden encodings (§4.3, §4.4) ---- */

TEST(batch_golden_value_encodings)
{
    DECL_ERR;
    struct feast_feature feats[] = {F("f32", FEAST_VT_FLOAT), F("f64", FEAST_VT_DOUBLE), F("i", FEAST_VT_INT64),
                                    F("neg", FEAST_VT_INT64), F("t", FEAST_VT_BOOL), F("fa", FEAST_VT_BOOL),
                                    F("s", FEAST_VT_STRING), F("ts", FEAST_VT_UNIX_TIMESTAMP),
                                    F("doc", FEAST_VT_FLOAT)};
    struct feast_schema s;
    struct feast_batch b;
    schema_for(&s, NULL, 0, feats, 9, 3);
    ASSERT_EQ_INT(feast_batch_init(&b, &s, 1), 0);
    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_double(&b, 0, 0.5, e), e);
    ASSERT_OK(feast_row_double(&b, 1, 0.5, e), e);
    ASSERT_OK(feast_row_int(&b, 2, 308, e), e);
    ASSERT_OK(feast_row_int(&b, 3, -1, e), e);
    ASSERT_OK(feast_row_bool(&b, 4, true, e), e);
    ASSERT_OK(feast_row_bool(&b, 5, false, e), e);
    ASSERT_OK(feast_row_str(&b, 6, "abc", 3, e), e);
    ASSERT_OK(feast_row_time(&b, 7, INT64_C(1640991600) * FERRY_NS_PER_SEC, e), e);
    ASSERT_OK(feast_row_double(&b, 8, 0.9273980259895325, e), e);
    ASSERT_OK(feast_row_end(&b, 1, 2, e), e);
    const char *want[] = {"350000003f", "29000000000000e03f", "20b402", "20ffffffffffffffffff01", "3801",
                          "3800", "1203616263", "40f096be8e06", "35f5696d3f"};
    for (size_t f = 0; f < 9; f++) {
        const struct feast_batch_cell *c = feast_batch_cell(&b, 0, f);
        ASSERT_EQ_HEX(b.bytes.data + c->val_off, c->val_len, want[f]);
    }
    /* entity-less view: the implied __dummy_id = "" key (§3.5) */
    ASSERT_EQ_HEX(feast_batch_key(&b, 0), b.rows[0].key_len,
                  "01000000 02000000 0a000000 5f5f64756d6d795f6964 02000000 00000000");
    ASSERT_EQ_INT(b.rows[0].event_ns, 1);
    ASSERT_EQ_INT(b.rows[0].created_ns, 2);
    feast_batch_cleanup(&b);
    feast_schema_cleanup(&s);
}

TEST(batch_oneof_defaults_are_written_and_null_is_empty)
{
    DECL_ERR;
    struct feast_feature feats[] = {F("i64", FEAST_VT_INT64), F("b", FEAST_VT_BOOL), F("s", FEAST_VT_STRING),
                                    F("i32", FEAST_VT_INT32), F("d", FEAST_VT_DOUBLE), F("f", FEAST_VT_FLOAT),
                                    F("ts", FEAST_VT_UNIX_TIMESTAMP), F("by", FEAST_VT_BYTES),
                                    F("unset", FEAST_VT_INT64), F("nulled", FEAST_VT_STRING)};
    struct feast_schema s;
    struct feast_batch b;
    schema_for(&s, NULL, 0, feats, 10, 3);
    ASSERT_EQ_INT(feast_batch_init(&b, &s, 1), 0);
    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_int(&b, 0, 0, e), e);
    ASSERT_OK(feast_row_bool(&b, 1, false, e), e);
    ASSERT_OK(feast_row_str(&b, 2, "", 0, e), e);
    ASSERT_OK(feast_row_int(&b, 3, 0, e), e);
    ASSERT_OK(feast_row_double(&b, 4, 0, e), e);
    ASSERT_OK(feast_row_double(&b, 5, 0, e), e);
    ASSERT_OK(feast_row_time(&b, 6, 0, e), e);
    ASSERT_OK(feast_row_bytes(&b, 7, "", 0, e), e);
    ASSERT_OK(feast_row_str(&b, 9, "x", 1, e), e);
    ASSERT_EQ_INT(feast_row_null(&b, 9), 0);
    ASSERT_OK(feast_row_end(&b, 0, FERRY_TIME_NONE, e), e);
    const char *want[] = {"2000", "3800", "1200", "1800", "290000000000000000", "3500000000", "4000", "0a00", "", ""};
    for (size_t f = 0; f < 10; f++) {
        const struct feast_batch_cell *c = feast_batch_cell(&b, 0, f);
        ASSERT_EQ_HEX(b.bytes.data + c->val_off, c->val_len, want[f]);
    }
    ASSERT_EQ_INT(feast_batch_cell(&b, 0, 8)->text_len, -1);
    ASSERT_EQ_INT(feast_batch_cell(&b, 0, 9)->text_len, -1);
    ASSERT_EQ_INT(feast_batch_cell(&b, 0, 2)->text_len, 0); /* "" is text, not NULL */
    ASSERT_EQ_INT(b.rows[0].created_ns, FERRY_TIME_NONE);
    feast_batch_cleanup(&b);
    feast_schema_cleanup(&s);
}

/* ---- cross-checks against protobuf-c ---- */

TEST(batch_scalars_match_protobuf_c)
{
    DECL_ERR;
    struct one o;
    Feast__Types__Value pv;

    static const int64_t i32s[] = {0, 1, -1, 127, 128, 300, INT32_MIN, INT32_MAX};
    one_init(&o, FEAST_VT_INT32);
    for (size_t i = 0; i < sizeof i32s / sizeof i32s[0]; i++) {
        one_begin(&o);
        ASSERT_OK(feast_row_int(&o.b, 0, i32s[i], e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_INT32_VAL);
        pv.int32_val = (int32_t)i32s[i];
        ASSERT_CELL_PB(&o, one_end(&o), &pv);
    }

    static const int64_t i64s[] = {0, 1, -1, 308, INT64_C(1) << 35, INT64_MIN, INT64_MAX};
    struct one o64, ots;
    one_init(&o64, FEAST_VT_INT64);
    one_init(&ots, FEAST_VT_UNIX_TIMESTAMP);
    for (size_t i = 0; i < sizeof i64s / sizeof i64s[0]; i++) {
        one_begin(&o64);
        ASSERT_OK(feast_row_int(&o64.b, 0, i64s[i], e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_INT64_VAL);
        pv.int64_val = i64s[i];
        ASSERT_CELL_PB(&o64, one_end(&o64), &pv);
        one_begin(&ots);
        ASSERT_OK(feast_row_int(&ots.b, 0, i64s[i], e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_VAL);
        pv.unix_timestamp_val = i64s[i];
        ASSERT_CELL_PB(&ots, one_end(&ots), &pv);
    }

    static const double ds[] = {0.0, -0.0, 0.1, -1e300, 1e-310, 3.5};
    struct one od, of;
    one_init(&od, FEAST_VT_DOUBLE);
    one_init(&of, FEAST_VT_FLOAT);
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        one_begin(&od);
        ASSERT_OK(feast_row_double(&od.b, 0, ds[i], e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_DOUBLE_VAL);
        pv.double_val = ds[i];
        ASSERT_CELL_PB(&od, one_end(&od), &pv);
        one_begin(&of);
        ASSERT_OK(feast_row_double(&of.b, 0, ds[i], e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_FLOAT_VAL);
        pv.float_val = (float)ds[i];
        ASSERT_CELL_PB(&of, one_end(&of), &pv);
    }

    struct one ob;
    one_init(&ob, FEAST_VT_BOOL);
    for (int i = 0; i < 2; i++) {
        one_begin(&ob);
        ASSERT_OK(feast_row_bool(&ob.b, 0, i, e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_BOOL_VAL);
        pv.bool_val = i;
        ASSERT_CELL_PB(&ob, one_end(&ob), &pv);
    }

    static char longs[300];
    memset(longs, 'x', sizeof longs - 1); /* a 2-byte length varint */
    const char *strs[] = {"", "abc", "\xc3\xa9t\xc3\xa9", longs};
    struct one os, oby, oj;
    one_init(&os, FEAST_VT_STRING);
    one_init(&oby, FEAST_VT_BYTES);
    for (size_t i = 0; i < 4; i++) {
        one_begin(&os);
        ASSERT_OK(feast_row_str(&os.b, 0, strs[i], strlen(strs[i]), e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_STRING_VAL);
        pv.string_val = (char *)strs[i];
        ASSERT_CELL_PB(&os, one_end(&os), &pv);
        one_begin(&oby);
        ASSERT_OK(feast_row_bytes(&oby.b, 0, strs[i], strlen(strs[i]), e), e);
        pv = pbv(FEAST__TYPES__VALUE__VAL_BYTES_VAL);
        pv.bytes_val.data = (uint8_t *)strs[i];
        pv.bytes_val.len = strlen(strs[i]);
        ASSERT_CELL_PB(&oby, one_end(&oby), &pv);
    }
    one_init(&oj, FEAST_VT_JSON);
    one_begin(&oj);
    ASSERT_OK(feast_row_str(&oj.b, 0, "{\"a\": [1, 2]}", 13, e), e);
    pv = pbv(FEAST__TYPES__VALUE__VAL_JSON_VAL);
    pv.json_val = "{\"a\": [1, 2]}";
    ASSERT_CELL_PB(&oj, one_end(&oj), &pv);
    ones_free();
}

TEST(batch_numeric_lists_match_protobuf_c)
{
    DECL_ERR;
    Feast__Types__Value pv;
    int64_t iv[] = {0, 1, -1, 300, INT32_MIN, INT32_MAX};
    size_t counts[] = {0, 1, 6};

    for (size_t ci = 0; ci < 3; ci++) {
        size_t n = counts[ci];
        struct one o32, o64, ots, od, of, ob;
        one_init(&o32, FEAST_VT_INT32_LIST);
        one_init(&o64, FEAST_VT_INT64_LIST);
        one_init(&ots, FEAST_VT_UNIX_TIMESTAMP_LIST);
        one_init(&od, FEAST_VT_DOUBLE_LIST);
        one_init(&of, FEAST_VT_FLOAT_LIST);
        one_init(&ob, FEAST_VT_BOOL_LIST);
        struct one *all[] = {&o32, &o64, &ots, &od, &of, &ob};
        for (size_t k = 0; k < 6; k++) {
            one_begin(all[k]);
            ASSERT_EQ_INT(feast_row_list_begin(&all[k]->b, 0), 0);
        }
        int32_t v32[6];
        double vd[6];
        float vf[6];
        protobuf_c_boolean vb[6];
        for (size_t i = 0; i < n; i++) {
            v32[i] = (int32_t)iv[i];
            vd[i] = (double)iv[i] / 3.0;
            vf[i] = (float)vd[i];
            vb[i] = i % 2;
            ASSERT_OK(feast_row_list_int(&o32.b, iv[i], e), e);
            ASSERT_OK(feast_row_list_int(&o64.b, iv[i], e), e);
            ASSERT_OK(feast_row_list_int(&ots.b, iv[i], e), e);
            ASSERT_OK(feast_row_list_double(&od.b, vd[i], e), e);
            ASSERT_OK(feast_row_list_double(&of.b, vd[i], e), e);
            ASSERT_OK(feast_row_list_bool(&ob.b, i % 2, e), e);
        }
        for (size_t k = 0; k < 6; k++)
            ASSERT_OK(feast_row_list_end(&all[k]->b, e), e);

        Feast__Types__Int32List l32 = FEAST__TYPES__INT32_LIST__INIT;
        l32.n_val = n;
        l32.val = v32;
        pv = pbv(FEAST__TYPES__VALUE__VAL_INT32_LIST_VAL);
        pv.int32_list_val = &l32;
        ASSERT_CELL_PB(&o32, one_end(&o32), &pv);

        Feast__Types__Int64List l64 = FEAST__TYPES__INT64_LIST__INIT;
        l64.n_val = n;
        l64.val = iv;
        pv = pbv(FEAST__TYPES__VALUE__VAL_INT64_LIST_VAL);
        pv.int64_list_val = &l64;
        ASSERT_CELL_PB(&o64, one_end(&o64), &pv);
        pv = pbv(FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_LIST_VAL);
        pv.unix_timestamp_list_val = &l64;
        ASSERT_CELL_PB(&ots, one_end(&ots), &pv);

        Feast__Types__DoubleList ld = FEAST__TYPES__DOUBLE_LIST__INIT;
        ld.n_val = n;
        ld.val = vd;
        pv = pbv(FEAST__TYPES__VALUE__VAL_DOUBLE_LIST_VAL);
        pv.double_list_val = &ld;
        ASSERT_CELL_PB(&od, one_end(&od), &pv);

        Feast__Types__FloatList lf = FEAST__TYPES__FLOAT_LIST__INIT;
        lf.n_val = n;
        lf.val = vf;
        pv = pbv(FEAST__TYPES__VALUE__VAL_FLOAT_LIST_VAL);
        pv.float_list_val = &lf;
        ASSERT_CELL_PB(&of, one_end(&of), &pv);

        Feast__Types__BoolList lb = FEAST__TYPES__BOOL_LIST__INIT;
        lb.n_val = n;
        lb.val = vb;
        pv = pbv(FEAST__TYPES__VALUE__VAL_BOOL_LIST_VAL);
        pv.bool_list_val = &lb;
        ASSERT_CELL_PB(&ob, one_end(&ob), &pv);
        ones_free();
    }
    ones_free();
}

TEST(batch_packed_list_golden_bytes)
{
    /* Hand-computed: Value{int64_list_val(14): Int64List{val: [1, -1]}} =
     * 72 0d | 0a 0b | 01 | ff*9 01 ; an empty list is 72 00. */
    DECL_ERR;
    struct one o;
    one_init(&o, FEAST_VT_INT64_LIST);
    one_begin(&o);
    ASSERT_EQ_INT(feast_row_list_begin(&o.b, 0), 0);
    ASSERT_OK(feast_row_list_int(&o.b, 1, e), e);
    ASSERT_OK(feast_row_list_int(&o.b, -1, e), e);
    ASSERT_OK(feast_row_list_end(&o.b, e), e);
    const struct feast_batch_cell *c = one_end(&o);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "720d 0a0b 01 ffffffffffffffffff01");
    one_begin(&o);
    ASSERT_EQ_INT(feast_row_list_begin(&o.b, 0), 0);
    ASSERT_OK(feast_row_list_end(&o.b, e), e);
    c = one_end(&o);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "7200");
    ASSERT_EQ_INT(c->text_len, -1);
    ones_free();
}

TEST(batch_string_lists_match_protobuf_c)
{
    DECL_ERR;
    Feast__Types__Value pv;
    static char longs[200];
    memset(longs, 'y', sizeof longs - 1);
    char *sv[] = {"", "abc", longs, "\"q\""};
    for (size_t n = 0; n <= 4; n += 2) {
        struct one os, ob, oj;
        one_init(&os, FEAST_VT_STRING_LIST);
        one_init(&ob, FEAST_VT_BYTES_LIST);
        one_init(&oj, FEAST_VT_JSON_LIST);
        one_begin(&os);
        one_begin(&ob);
        one_begin(&oj);
        ASSERT_EQ_INT(feast_row_list_begin(&os.b, 0), 0);
        ASSERT_EQ_INT(feast_row_list_begin(&ob.b, 0), 0);
        ASSERT_EQ_INT(feast_row_list_begin(&oj.b, 0), 0);
        ProtobufCBinaryData bv[4];
        for (size_t i = 0; i < n; i++) {
            ASSERT_OK(feast_row_list_str(&os.b, sv[i], strlen(sv[i]), e), e);
            ASSERT_OK(feast_row_list_str(&ob.b, sv[i], strlen(sv[i]), e), e);
            bv[i] = (ProtobufCBinaryData){strlen(sv[i]), (uint8_t *)sv[i]};
        }
        char *jv[] = {"1", "[true, null]", "\"s\"", "{}"};
        for (size_t i = 0; i < n; i++)
            ASSERT_OK(feast_row_list_str(&oj.b, jv[i], strlen(jv[i]), e), e);
        ASSERT_OK(feast_row_list_end(&os.b, e), e);
        ASSERT_OK(feast_row_list_end(&ob.b, e), e);
        ASSERT_OK(feast_row_list_end(&oj.b, e), e);

        Feast__Types__StringList sl = FEAST__TYPES__STRING_LIST__INIT;
        sl.n_val = n;
        sl.val = sv;
        pv = pbv(FEAST__TYPES__VALUE__VAL_STRING_LIST_VAL);
        pv.string_list_val = &sl;
        ASSERT_CELL_PB(&os, one_end(&os), &pv);

        Feast__Types__BytesList bl = FEAST__TYPES__BYTES_LIST__INIT;
        bl.n_val = n;
        bl.val = bv;
        pv = pbv(FEAST__TYPES__VALUE__VAL_BYTES_LIST_VAL);
        pv.bytes_list_val = &bl;
        ASSERT_CELL_PB(&ob, one_end(&ob), &pv);

        Feast__Types__StringList jl = FEAST__TYPES__STRING_LIST__INIT;
        jl.n_val = n;
        jl.val = jv;
        pv = pbv(FEAST__TYPES__VALUE__VAL_JSON_LIST_VAL); /* field 33: a two-byte tag */
        pv.json_list_val = &jl;
        ASSERT_CELL_PB(&oj, one_end(&oj), &pv);
        ones_free();
    }
    ones_free();
}

TEST(batch_list_null_elements_become_type_defaults)
{
    DECL_ERR;
    Feast__Types__Value pv;
    int vts[] = {FEAST_VT_INT32_LIST, FEAST_VT_INT64_LIST, FEAST_VT_UNIX_TIMESTAMP_LIST, FEAST_VT_DOUBLE_LIST,
                 FEAST_VT_FLOAT_LIST, FEAST_VT_BOOL_LIST, FEAST_VT_STRING_LIST, FEAST_VT_BYTES_LIST,
                 FEAST_VT_JSON_LIST};
    struct one o[9];
    for (size_t k = 0; k < 9; k++) {
        one_init(&o[k], vts[k]);
        one_begin(&o[k]);
        ASSERT_EQ_INT(feast_row_list_begin(&o[k].b, 0), 0);
        ASSERT_OK(feast_row_list_null(&o[k].b, e), e);
        ASSERT_OK(feast_row_list_end(&o[k].b, e), e);
    }
    int32_t z32[] = {0};
    int64_t z64[] = {0}, nat[] = {INT64_MIN}; /* NaT as an integer */
    double zd[] = {0};
    float zf[] = {0};
    protobuf_c_boolean zb[] = {0};
    char *zs[] = {""}, *zj[] = {"null"};
    ProtobufCBinaryData zby[] = {{0, NULL}};
    Feast__Types__Int32List l32 = {PROTOBUF_C_MESSAGE_INIT(&feast__types__int32_list__descriptor), 1, z32};
    Feast__Types__Int64List l64 = {PROTOBUF_C_MESSAGE_INIT(&feast__types__int64_list__descriptor), 1, z64};
    Feast__Types__Int64List lnat = {PROTOBUF_C_MESSAGE_INIT(&feast__types__int64_list__descriptor), 1, nat};
    Feast__Types__DoubleList ld = {PROTOBUF_C_MESSAGE_INIT(&feast__types__double_list__descriptor), 1, zd};
    Feast__Types__FloatList lf = {PROTOBUF_C_MESSAGE_INIT(&feast__types__float_list__descriptor), 1, zf};
    Feast__Types__BoolList lb = {PROTOBUF_C_MESSAGE_INIT(&feast__types__bool_list__descriptor), 1, zb};
    Feast__Types__StringList ls = {PROTOBUF_C_MESSAGE_INIT(&feast__types__string_list__descriptor), 1, zs};
    Feast__Types__BytesList lby = {PROTOBUF_C_MESSAGE_INIT(&feast__types__bytes_list__descriptor), 1, zby};
    Feast__Types__StringList lj = {PROTOBUF_C_MESSAGE_INIT(&feast__types__string_list__descriptor), 1, zj};

    pv = pbv(FEAST__TYPES__VALUE__VAL_INT32_LIST_VAL); pv.int32_list_val = &l32;
    ASSERT_CELL_PB(&o[0], one_end(&o[0]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_INT64_LIST_VAL); pv.int64_list_val = &l64;
    ASSERT_CELL_PB(&o[1], one_end(&o[1]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_LIST_VAL); pv.unix_timestamp_list_val = &lnat;
    ASSERT_CELL_PB(&o[2], one_end(&o[2]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_DOUBLE_LIST_VAL); pv.double_list_val = &ld;
    ASSERT_CELL_PB(&o[3], one_end(&o[3]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_FLOAT_LIST_VAL); pv.float_list_val = &lf;
    ASSERT_CELL_PB(&o[4], one_end(&o[4]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_BOOL_LIST_VAL); pv.bool_list_val = &lb;
    ASSERT_CELL_PB(&o[5], one_end(&o[5]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_STRING_LIST_VAL); pv.string_list_val = &ls;
    ASSERT_CELL_PB(&o[6], one_end(&o[6]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_BYTES_LIST_VAL); pv.bytes_list_val = &lby;
    ASSERT_CELL_PB(&o[7], one_end(&o[7]), &pv);
    pv = pbv(FEAST__TYPES__VALUE__VAL_JSON_LIST_VAL); pv.json_list_val = &lj;
    ASSERT_CELL_PB(&o[8], one_end(&o[8]), &pv);
    ones_free();
}

/* ---- conversions to the declared type (§2.6) ---- */

TEST(batch_conversions_to_declared_type)
{
    DECL_ERR;
    struct one o;
    const struct feast_batch_cell *c;

    one_init(&o, FEAST_VT_FLOAT);
    one_begin(&o);
    ASSERT_OK(feast_row_int(&o.b, 0, 3, e), e); /* float(3) */
    c = one_end(&o);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "3500004040");
    one_begin(&o);
    ASSERT_OK(feast_row_double(&o.b, 0, 0.7, e), e); /* rounded to float32 0x3f333333, little-endian */
    c = one_end(&o);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "35 3333333f");
    ASSERT_EQ_STR(cell_text(&o, c), "0.699999988079071");
    one_begin(&o);
    ASSERT_OK(feast_row_bool(&o.b, 0, true, e), e); /* float(True) */
    c = one_end(&o);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "350000803f");
    one_begin(&o);
    ASSERT_OK(feast_row_double(&o.b, 0, NAN, e), e); /* pd.isnull(NaN): empty Value */
    c = one_end(&o);
    ASSERT_EQ_INT(c->val_len, 0);
    ASSERT_EQ_INT(c->text_len, -1);

    struct one o32;
    one_init(&o32, FEAST_VT_INT32);
    one_begin(&o32);
    ASSERT_EQ_INT(feast_row_int(&o32.b, 0, INT64_C(2147483648), e), FERRY_EINVAL);
    ASSERT_CONTAINS(e->msg, "f");
    ASSERT_CONTAINS(e->msg, "Int32");
    ASSERT_EQ_INT(feast_row_double(&o32.b, 0, 1.0 / 0.0, e), FERRY_EINVAL);
    ASSERT_OK(feast_row_double(&o32.b, 0, -1.9, e), e); /* int(-1.9) = -1 */
    c = one_end(&o32);
    ASSERT_EQ_HEX(cell_val(&o32, c), c->val_len, "18ffffffffffffffffff01");
    ASSERT_EQ_STR(cell_text(&o32, c), "-1");
    one_begin(&o32);
    ASSERT_EQ_INT(feast_row_str(&o32.b, 0, "1", 1, e), FERRY_EINVAL);

    struct one o64;
    one_init(&o64, FEAST_VT_INT64);
    one_begin(&o64);
    ASSERT_OK(feast_row_time(&o64.b, 0, -1, e), e); /* int(ts.timestamp()) truncates: 0 */
    c = one_end(&o64);
    ASSERT_EQ_HEX(cell_val(&o64, c), c->val_len, "2000");
    one_begin(&o64);
    ASSERT_OK(feast_row_time(&o64.b, 0, INT64_C(1640991600999999999), e), e);
    c = one_end(&o64);
    ASSERT_EQ_HEX(cell_val(&o64, c), c->val_len, "20f096be8e06");
    ASSERT_EQ_STR(cell_text(&o64, c), "1640991600");
    one_begin(&o64);
    ASSERT_EQ_INT(feast_row_double(&o64.b, 0, 1e19, e), FERRY_EINVAL);

    struct one ots;
    one_init(&ots, FEAST_VT_UNIX_TIMESTAMP);
    one_begin(&ots);
    ASSERT_OK(feast_row_time(&ots.b, 0, -1, e), e); /* datetime64[s] floors: -1 */
    c = one_end(&ots);
    ASSERT_EQ_HEX(cell_val(&ots, c), c->val_len, "40ffffffffffffffffff01");
    ASSERT_EQ_INT(c->text_len, -1);
    one_begin(&ots);
    ASSERT_EQ_INT(feast_row_str(&ots.b, 0, "x", 1, e), FERRY_EINVAL);

    struct one od;
    one_init(&od, FEAST_VT_DOUBLE);
    one_begin(&od);
    ASSERT_EQ_INT(feast_row_bool(&od.b, 0, true, e), FERRY_EINVAL); /* bool not in Float64's types */
    ASSERT_OK(feast_row_int(&od.b, 0, 2, e), e);
    c = one_end(&od);
    ASSERT_EQ_HEX(cell_val(&od, c), c->val_len, "290000000000000040");
    ASSERT_EQ_STR(cell_text(&od, c), "2.0");

    struct one ob;
    one_init(&ob, FEAST_VT_BOOL);
    one_begin(&ob);
    ASSERT_OK(feast_row_int(&ob.b, 0, 1, e), e);
    c = one_end(&ob);
    ASSERT_EQ_HEX(cell_val(&ob, c), c->val_len, "3801");
    one_begin(&ob);
    ASSERT_EQ_INT(feast_row_double(&ob.b, 0, 1.0, e), FERRY_EINVAL);

    struct one oby;
    one_init(&oby, FEAST_VT_BYTES);
    one_begin(&oby);
    ASSERT_EQ_INT(feast_row_str(&oby.b, 0, "x", 1, e), FERRY_EINVAL);
    ones_free();
}

TEST(batch_str_conversion_follows_python_str)
{
    DECL_ERR;
    struct one o;
    one_init(&o, FEAST_VT_STRING);
    struct { int kind; int64_t i; double d; bool b; const char *want; } cases[] = {
        {FEAST_SRC_INT, 42, 0, 0, "42"},
        {FEAST_SRC_INT, INT64_MIN, 0, 0, "-9223372036854775808"},
        {FEAST_SRC_FLOAT, 0, 0.1, 0, "0.1"},
        {FEAST_SRC_FLOAT, 0, 1.0, 0, "1.0"},
        {FEAST_SRC_FLOAT, 0, 1e16, 0, "1e+16"},
        {FEAST_SRC_BOOL, 0, 0, true, "True"},
        {FEAST_SRC_BOOL, 0, 0, false, "False"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        one_begin(&o);
        if (cases[i].kind == FEAST_SRC_INT)
            ASSERT_OK(feast_row_int(&o.b, 0, cases[i].i, e), e);
        else if (cases[i].kind == FEAST_SRC_FLOAT)
            ASSERT_OK(feast_row_double(&o.b, 0, cases[i].d, e), e);
        else
            ASSERT_OK(feast_row_bool(&o.b, 0, cases[i].b, e), e);
        const struct feast_batch_cell *c = one_end(&o);
        Feast__Types__Value pv = pbv(FEAST__TYPES__VALUE__VAL_STRING_VAL);
        pv.string_val = (char *)cases[i].want;
        ASSERT_CELL_PB(&o, c, &pv);
        ASSERT_EQ_STR(cell_text(&o, c), cases[i].want);
    }
    ones_free();
}

TEST(batch_json_checks_strings_and_dumps_others)
{
    DECL_ERR;
    struct one o;
    one_init(&o, FEAST_VT_JSON);
    one_begin(&o);
    ASSERT_EQ_INT(feast_row_str(&o.b, 0, "{bad", 4, e), FERRY_EINVAL);
    ASSERT_CONTAINS(e->msg, "JSON");
    ASSERT_OK(feast_row_str(&o.b, 0, "42", 2, e), e); /* any JSON document, not only objects */
    const struct feast_batch_cell *c = one_end(&o);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "8202 02 3432"); /* field 32: tag 82 02 */
    ASSERT_EQ_INT(c->text_len, -1);                                /* only string_val has text */
    const char *want[] = {"true", "5", "0.5", "NaN"};
    for (int i = 0; i < 4; i++) {
        one_begin(&o);
        if (i == 0)
            ASSERT_OK(feast_row_bool(&o.b, 0, true, e), e);
        else if (i == 1)
            ASSERT_OK(feast_row_int(&o.b, 0, 5, e), e);
        else
            ASSERT_OK(feast_row_double(&o.b, 0, i == 2 ? 0.5 : NAN, e), e);
        c = one_end(&o);
        Feast__Types__Value pv = pbv(FEAST__TYPES__VALUE__VAL_JSON_VAL);
        pv.json_val = (char *)want[i];
        ASSERT_CELL_PB(&o, c, &pv);
    }
    struct one ol;
    one_init(&ol, FEAST_VT_JSON_LIST);
    one_begin(&ol);
    ASSERT_EQ_INT(feast_row_list_begin(&ol.b, 0), 0);
    ASSERT_EQ_INT(feast_row_list_str(&ol.b, "[", 1, e), FERRY_EINVAL);
    ones_free();
}

TEST(batch_list_element_conversions)
{
    DECL_ERR;
    struct one o;
    one_init(&o, FEAST_VT_INT32_LIST);
    one_begin(&o);
    ASSERT_EQ_INT(feast_row_list_begin(&o.b, 0), 0);
    ASSERT_EQ_INT(feast_row_list_int(&o.b, INT64_C(1) << 40, e), FERRY_EINVAL);
    ASSERT_EQ_INT(feast_row_list_double(&o.b, 1.0, e), FERRY_EINVAL);
    ASSERT_EQ_INT(feast_row_list_str(&o.b, "1", 1, e), FERRY_EINVAL);

    struct one ots;
    one_init(&ots, FEAST_VT_UNIX_TIMESTAMP_LIST);
    one_begin(&ots);
    ASSERT_EQ_INT(feast_row_list_begin(&ots.b, 0), 0);
    ASSERT_OK(feast_row_list_time(&ots.b, INT64_C(1640991600) * FERRY_NS_PER_SEC + 5, e), e);
    ASSERT_OK(feast_row_list_time(&ots.b, -1, e), e);
    ASSERT_OK(feast_row_list_end(&ots.b, e), e);
    const struct feast_batch_cell *c = one_end(&ots);
    /* 92 01 = field 18; Int64List{val: [1640991600, -1]} */
    ASSERT_EQ_HEX(cell_val(&ots, c), c->val_len, "9201 11 0a 0f f096be8e06 ffffffffffffffffff01");

    /* a scalar setter on a list feature, and a list on a scalar feature, are refused */
    struct one s;
    one_init(&s, FEAST_VT_INT64);
    one_begin(&s);
    ASSERT_EQ_INT(feast_row_list_begin(&s.b, 0), FERRY_EINVAL);
    struct one l;
    one_init(&l, FEAST_VT_INT64_LIST);
    one_begin(&l);
    ASSERT_EQ_INT(feast_row_int(&l.b, 0, 1, e), FERRY_EINVAL);
    ones_free();
}

/* ---- value_text (§5.3) ---- */

TEST(batch_value_text_per_type)
{
    DECL_ERR;
    struct feast_feature feats[] = {F("s", FEAST_VT_STRING), F("i32", FEAST_VT_INT32), F("i64", FEAST_VT_INT64),
                                    F("f", FEAST_VT_FLOAT), F("d", FEAST_VT_DOUBLE), F("b", FEAST_VT_BOOL),
                                    F("by", FEAST_VT_BYTES), F("ts", FEAST_VT_UNIX_TIMESTAMP),
                                    F("l", FEAST_VT_STRING_LIST), F("n", FEAST_VT_INT64)};
    struct feast_schema s;
    struct feast_batch b;
    schema_for(&s, NULL, 0, feats, 10, 3);
    ASSERT_EQ_INT(feast_batch_init(&b, &s, 1), 0);
    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_str(&b, 0, "h\xc3\xa9llo", 6, e), e);
    ASSERT_OK(feast_row_int(&b, 1, -5, e), e);
    ASSERT_OK(feast_row_int(&b, 2, 308, e), e);
    ASSERT_OK(feast_row_double(&b, 3, 0.7, e), e);
    ASSERT_OK(feast_row_double(&b, 4, 1e-05, e), e);
    ASSERT_OK(feast_row_bool(&b, 5, false, e), e);
    ASSERT_OK(feast_row_bytes(&b, 6, "x", 1, e), e);
    ASSERT_OK(feast_row_int(&b, 7, 5, e), e);
    ASSERT_EQ_INT(feast_row_list_begin(&b, 8), 0);
    ASSERT_OK(feast_row_list_str(&b, "a", 1, e), e);
    ASSERT_OK(feast_row_list_end(&b, e), e);
    ASSERT_OK(feast_row_end(&b, 0, 0, e), e);
    const char *want[] = {"h\xc3\xa9llo", "-5", "308", "0.699999988079071", "1e-05", "False", NULL, NULL, NULL, NULL};
    for (size_t f = 0; f < 10; f++) {
        const struct feast_batch_cell *c = feast_batch_cell(&b, 0, f);
        if (!want[f]) {
            ASSERT_EQ_INT(c->text_len, -1);
            continue;
        }
        ASSERT_EQ_INT(c->text_len, strlen(want[f]));
        ASSERT_TRUE(memcmp(b.bytes.data + c->text_off, want[f], strlen(want[f])) == 0);
    }
    feast_batch_cleanup(&b);
    feast_schema_cleanup(&s);
}

/* For stores that never read value_text (Redis), numbers are not formatted; the Value bytes are
 * the same golden bytes as with text (feast-compat §4.4). */
TEST(batch_without_value_text_keeps_value_bytes)
{
    DECL_ERR;
    struct feast_feature feats[] = {F("i64", FEAST_VT_INT64), F("f", FEAST_VT_FLOAT), F("d", FEAST_VT_DOUBLE),
                                    F("i32", FEAST_VT_INT32)};
    struct feast_schema s;
    struct feast_batch b;
    schema_for(&s, NULL, 0, feats, 4, 3);
    s.no_value_text = true;
    ASSERT_EQ_INT(feast_batch_init(&b, &s, 1), 0);
    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_int(&b, 0, 308, e), e);
    ASSERT_OK(feast_row_double(&b, 1, 0.5, e), e);
    ASSERT_OK(feast_row_double(&b, 2, 0.5, e), e);
    ASSERT_OK(feast_row_int(&b, 3, -1, e), e);
    ASSERT_OK(feast_row_end(&b, 0, 0, e), e);
    const char *golden[] = {"20b402", "350000003f", "29000000000000e03f", "18ffffffffffffffffff01"};
    for (size_t f = 0; f < 4; f++) {
        const struct feast_batch_cell *c = feast_batch_cell(&b, 0, f);
        ASSERT_EQ_INT(c->text_len, -1);
        ASSERT_EQ_HEX(b.bytes.data + c->val_off, c->val_len, golden[f]);
    }
    feast_batch_cleanup(&b);
    feast_schema_cleanup(&s);
}

/* ---- keys, rows and schema ---- */

TEST(batch_keys_sorted_once_per_schema)
{
    DECL_ERR;
    struct feast_feature keys[] = {F("zebra", FEAST_VT_STRING), F("alpha", FEAST_VT_INT64), F("beta", FEAST_VT_INT32)};
    struct feast_feature feats[] = {F("x", FEAST_VT_INT64)};
    struct feast_schema s;
    struct feast_batch b;
    schema_for(&s, keys, 3, feats, 1, 3);
    ASSERT_EQ_INT(s.nkeys, 3);
    ASSERT_EQ_STR(s.key_names[0], "zebra"); /* entity_columns order is kept for the setters */
    ASSERT_EQ_INT(feast_batch_init(&b, &s, 1), 0);
    for (int r = 0; r < 2; r++) {
        ASSERT_EQ_INT(feast_row_begin(&b), 0);
        ASSERT_OK(feast_row_key_str(&b, 0, "z", 1, e), e);
        ASSERT_OK(feast_row_key_int(&b, 1, 1, e), e);
        ASSERT_OK(feast_row_key_int(&b, 2, 2, e), e);
        ASSERT_OK(feast_row_end(&b, r, r, e), e);
    }
    for (int r = 0; r < 2; r++)
        ASSERT_EQ_HEX(feast_batch_key(&b, r), b.rows[r].key_len,
                      "03000000 02000000 05000000 616c706861 02000000 04000000 62657461"
                      "02000000 05000000 7a65627261 04000000 08000000 0100000000000000"
                      "03000000 04000000 02000000 02000000 01000000 7a");
    ASSERT_EQ_INT(b.rows[1].event_ns, 1);
    /* the row's feature was never set: null */
    ASSERT_EQ_INT(feast_batch_cell(&b, 1, 0)->val_len, 0);

    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_key_str(&b, 0, "z", 1, e), e);
    ASSERT_EQ_INT(feast_row_key_int(&b, 2, INT64_C(1) << 31, e), FERRY_EINVAL);
    ASSERT_EQ_INT(feast_row_key_time(&b, 2, 0, e), FERRY_EINVAL);
    ASSERT_OK(feast_row_key_int(&b, 2, 2, e), e);
    ASSERT_EQ_INT(feast_row_end(&b, 0, 0, e), FERRY_EINVAL); /* alpha never set */
    ASSERT_CONTAINS(e->msg, "alpha");
    ASSERT_EQ_INT(b.nrows, 2);
    feast_batch_cleanup(&b);
    feast_schema_cleanup(&s);
}

TEST(batch_key_conversions_and_v1)
{
    DECL_ERR;
    struct feast_feature keys[] = {F("driver_id", FEAST_VT_INT64)};
    struct feast_schema s;
    struct feast_batch b;
    schema_for(&s, keys, 1, NULL, 0, 1);
    ASSERT_EQ_INT(feast_batch_init(&b, &s, 1), 0);
    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_key_int(&b, 0, 1001, e), e);
    ASSERT_OK(feast_row_end(&b, 0, 0, e), e);
    ASSERT_EQ_HEX(feast_batch_key(&b, 0), b.rows[0].key_len, "02000000 6472697665725f6964 04000000 04000000 e9030000");
    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_key_int(&b, 0, INT64_C(1) << 40, e), e);
    ASSERT_EQ_INT(feast_row_end(&b, 0, 0, e), FERRY_EINVAL); /* version 1 cannot hold it */
    ASSERT_EQ_INT(b.nrows, 1);
    feast_batch_cleanup(&b);
    feast_schema_cleanup(&s);

    /* timestamps into a UnixTimestamp key (floor seconds) and ints into a String key (decimal) */
    struct feast_feature keys2[] = {F("t", FEAST_VT_UNIX_TIMESTAMP), F("s", FEAST_VT_STRING)};
    schema_for(&s, keys2, 2, NULL, 0, 3);
    ASSERT_EQ_INT(feast_batch_init(&b, &s, 1), 0);
    ASSERT_EQ_INT(feast_row_begin(&b), 0);
    ASSERT_OK(feast_row_key_time(&b, 0, -1, e), e);
    ASSERT_OK(feast_row_key_int(&b, 1, 12, e), e);
    ASSERT_OK(feast_row_end(&b, 0, 0, e), e);
    ASSERT_EQ_HEX(feast_batch_key(&b, 0), b.rows[0].key_len,
                  "02000000 02000000 01000000 73 02000000 01000000 74"
                  "02000000 02000000 3132 08000000 08000000 ffffffffffffffff");
    feast_batch_cleanup(&b);
    feast_schema_cleanup(&s);
}

TEST(batch_schema_rejects_bad_types_and_handles_dummy)
{
    struct ferry_err err_store_ = {0}, *e = &err_store_;
    struct feast_schema s;
    struct feast_feature badkey[] = {F("k", FEAST_VT_DOUBLE)};
    struct feast_feature feats[] = {F("m", FEAST_VT_MAP)};
    struct feast_view v = {.name = "v", .entity_columns = badkey, .nentity_columns = 1};
    ASSERT_EQ_INT(feast_schema_init(&s, &v, 3, e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e->msg, "k");
    struct feast_feature okkey[] = {F("k", FEAST_VT_STRING)};
    v.entity_columns = okkey;
    v.features = feats;
    v.nfeatures = 1;
    ASSERT_EQ_INT(feast_schema_init(&s, &v, 3, e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e->msg, "Map");
    v.nfeatures = 0;
    ASSERT_EQ_INT(feast_schema_init(&s, &v, 4, e), FERRY_ECONFIG);
    struct feast_feature dup[] = {F("k", FEAST_VT_STRING), F("k", FEAST_VT_INT64)};
    v.entity_columns = dup;
    v.nentity_columns = 2;
    ASSERT_EQ_INT(feast_schema_init(&s, &v, 3, e), FERRY_ECONFIG);

    char *ents[] = {FEAST_DUMMY_ENTITY};
    v.entities = ents;
    v.nentities = 1;
    v.nentity_columns = 0;
    ASSERT_OK(feast_schema_init(&s, &v, 3, e), e);
    ASSERT_EQ_INT(s.nkeys, 1);
    ASSERT_EQ_STR(s.key_names[0], FEAST_DUMMY_ENTITY_ID);
    ASSERT_EQ_INT(s.key_vtypes[0], FEAST_VT_STRING);
    feast_schema_cleanup(&s);
}

TEST(batch_grows_resets_and_abandons_rows)
{
    DECL_ERR;
    struct one o;
    one_init(&o, FEAST_VT_INT64);
    for (int64_t i = 0; i < 1000; i++) {
        one_begin(&o);
        ASSERT_OK(feast_row_int(&o.b, 0, i, e), e);
        ASSERT_OK(feast_row_end(&o.b, i, i, e), e);
    }
    ASSERT_EQ_INT(o.b.nrows, 1000);
    const struct feast_batch_cell *c = feast_batch_cell(&o.b, 999, 0);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "20e707");
    ASSERT_EQ_STR(cell_text(&o, c), "999");
    ASSERT_EQ_INT(o.b.rows[999].event_ns, 999);

    /* an abandoned row leaves no bytes behind */
    size_t used = o.b.bytes.len;
    one_begin(&o);
    ASSERT_OK(feast_row_int(&o.b, 0, 1, e), e);
    one_begin(&o);
    ASSERT_EQ_INT(o.b.bytes.len, used);

    feast_batch_reset(&o.b);
    ASSERT_EQ_INT(o.b.nrows, 0);
    one_begin(&o);
    ASSERT_OK(feast_row_int(&o.b, 0, 7, e), e);
    c = one_end(&o);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "2007");
    ones_free();
}

TEST(batch_arena_limit_keeps_finished_rows)
{
    DECL_ERR;
    struct one o;
    one_init(&o, FEAST_VT_STRING);
    o.b.bytes.max = 200; /* stand-in for FEAST_BATCH_MAX_BYTES */
    int rc = 0;
    size_t done = 0;
    for (int i = 0; i < 100 && !rc; i++) {
        one_begin(&o);
        rc = feast_row_str(&o.b, 0, "0123456789", 10, e);
        if (!rc)
            rc = feast_row_end(&o.b, 0, 0, e);
        if (!rc)
            done++;
    }
    ASSERT_EQ_INT(rc, FERRY_ELIMIT);
    ASSERT_CONTAINS(e->msg, "batch");
    ASSERT_TRUE(done > 0);
    ASSERT_EQ_INT(o.b.nrows, done);
    const struct feast_batch_cell *c = feast_batch_cell(&o.b, done - 1, 0);
    ASSERT_EQ_HEX(cell_val(&o, c), c->val_len, "120a 30313233343536373839");
    ones_free();
}

/* ---- feast_src_compatible agrees with the setters ---- */

static int set_scalar(struct feast_batch *b, int kind, int vtype, struct ferry_err *e)
{
    switch (kind) {
    case FEAST_SRC_INT: return feast_row_int(b, 0, 1, e);
    case FEAST_SRC_FLOAT: return feast_row_double(b, 0, 1.5, e);
    case FEAST_SRC_STRING: return feast_row_str(b, 0, "1", 1, e); /* also valid JSON */
    case FEAST_SRC_BOOL: return feast_row_bool(b, 0, true, e);
    case FEAST_SRC_TIMESTAMP: return feast_row_time(b, 0, 1, e);
    case FEAST_SRC_BYTES: return feast_row_bytes(b, 0, "1", 1, e);
    case FEAST_SRC_DECIMAL: /* documented: text for String, a double otherwise */
        return vtype == FEAST_VT_STRING ? feast_row_str(b, 0, "1.5", 3, e) : feast_row_double(b, 0, 1.5, e);
    }
    return -100;
}

static int set_elem(struct feast_batch *b, int kind, struct ferry_err *e)
{
    switch (kind) {
    case FEAST_SRC_INT: return feast_row_list_int(b, 1, e);
    case FEAST_SRC_FLOAT: case FEAST_SRC_DECIMAL: return feast_row_list_double(b, 1.5, e);
    case FEAST_SRC_STRING: case FEAST_SRC_BYTES: return feast_row_list_str(b, "1", 1, e);
    case FEAST_SRC_BOOL: return feast_row_list_bool(b, true, e);
    case FEAST_SRC_TIMESTAMP: return feast_row_list_time(b, 1, e);
    }
    return -100;
}

TEST(batch_src_compatible_agrees_with_setters)
{
    DECL_ERR;
    int vts[] = {FEAST_VT_BYTES, FEAST_VT_STRING, FEAST_VT_INT32, FEAST_VT_INT64, FEAST_VT_DOUBLE, FEAST_VT_FLOAT,
                 FEAST_VT_BOOL, FEAST_VT_UNIX_TIMESTAMP, FEAST_VT_JSON, FEAST_VT_BYTES_LIST, FEAST_VT_STRING_LIST,
                 FEAST_VT_INT32_LIST, FEAST_VT_INT64_LIST, FEAST_VT_DOUBLE_LIST, FEAST_VT_FLOAT_LIST,
                 FEAST_VT_BOOL_LIST, FEAST_VT_UNIX_TIMESTAMP_LIST, FEAST_VT_JSON_LIST};
    size_t ok = 0;
    for (size_t v = 0; v < sizeof vts / sizeof vts[0]; v++) {
        bool list = feast_vtype_is_list(vts[v]);
        for (int kind = FEAST_SRC_INT; kind <= FEAST_SRC_DECIMAL; kind++) {
            struct one o;
            one_init(&o, vts[v]);
            one_begin(&o);
            int rc;
            bool compat;
            /* setters shared by several kinds can accept more than the kind allows */
            bool shared;
            if (list) {
                ASSERT_EQ_INT(feast_row_list_begin(&o.b, 0), 0);
                rc = set_elem(&o.b, kind, e);
                if (!rc)
                    rc = feast_row_list_end(&o.b, e);
                compat = feast_src_compatible(vts[v], FEAST_SRC_LIST, kind);
                shared = kind == FEAST_SRC_DECIMAL || kind == FEAST_SRC_STRING || kind == FEAST_SRC_BYTES;
                ASSERT_FALSE(feast_src_compatible(vts[v], kind, 0)); /* a scalar never feeds a list */
            } else {
                rc = set_scalar(&o.b, kind, vts[v], e);
                compat = feast_src_compatible(vts[v], kind, 0);
                shared = kind == FEAST_SRC_DECIMAL;
                ASSERT_FALSE(feast_src_compatible(vts[v], FEAST_SRC_LIST, kind));
            }
            if (compat && rc != 0)
                test_fail(__FILE__, __LINE__, "%s -> %s is compatible but the setter failed: %s",
                          feast_src_kind_name(kind), feast_dtype_name(vts[v]), e->msg);
            if (!compat && rc == 0 && !shared)
                test_fail(__FILE__, __LINE__, "%s -> %s is incompatible but the setter accepted it",
                          feast_src_kind_name(kind), feast_dtype_name(vts[v]));
            ok += compat;
            ones_free();
        }
    }
    ASSERT_TRUE(ok > 30);
    /* spot checks of the documented matrix */
    ASSERT_TRUE(feast_src_compatible(FEAST_VT_FLOAT, FEAST_SRC_INT, 0));
    ASSERT_TRUE(feast_src_compatible(FEAST_VT_INT64, FEAST_SRC_TIMESTAMP, 0));
    ASSERT_FALSE(feast_src_compatible(FEAST_VT_INT32, FEAST_SRC_STRING, 0));
    ASSERT_FALSE(feast_src_compatible(FEAST_VT_DOUBLE, FEAST_SRC_BOOL, 0));
    ASSERT_TRUE(feast_src_compatible(FEAST_VT_FLOAT_LIST, FEAST_SRC_LIST, FEAST_SRC_FLOAT));
    ASSERT_FALSE(feast_src_compatible(FEAST_VT_DOUBLE_LIST, FEAST_SRC_LIST, FEAST_SRC_INT));
    ASSERT_TRUE(feast_key_src_compatible(FEAST_VT_INT64, FEAST_SRC_INT));
    ASSERT_FALSE(feast_key_src_compatible(FEAST_VT_INT64, FEAST_SRC_FLOAT));
    ASSERT_FALSE(feast_key_src_compatible(FEAST_VT_BYTES, FEAST_SRC_STRING));
    ones_free();
}
