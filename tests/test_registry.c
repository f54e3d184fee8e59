/* registry/: reading Feast's registry.db and the locked updates ferry makes to it. Expected values
 * come from `protoc --decode_raw` of the fixture (read by hand), the golden interval bytes of
 * feast-compat.md §2.8, and a small independent wire-format scanner below (not ferry's code). */
#include "test.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry/registry.h"

#define SEC INT64_C(1000000000)

/* ---- an independent protobuf wire scanner for checking written bytes ---- */

static uint64_t rd_varint(const unsigned char **p, const unsigned char *end)
{
    uint64_t v = 0;
    int shift = 0;
    while (*p < end) {
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
        shift += 7;
    }
    test_fail(__FILE__, __LINE__, "truncated varint");
}

/* Finds the idx-th occurrence of field `field` in a message. For length-delimited fields returns
 * its payload; for varints stores the value in *val. Returns false when absent. */
static bool wire_field(const void *msg, size_t len, int field, int idx, const unsigned char **out,
                       size_t *outlen, uint64_t *val)
{
    const unsigned char *p = msg, *end = p + len;
    while (p < end) {
        uint64_t key = rd_varint(&p, end);
        int f = (int)(key >> 3), wt = (int)(key & 7);
        const unsigned char *start = p;
        size_t n = 0;
        uint64_t v = 0;
        if (wt == 0)
            v = rd_varint(&p, end);
        else if (wt == 2) {
            n = (size_t)rd_varint(&p, end);
            start = p;
            p += n;
        } else if (wt == 1)
            p += 8;
        else if (wt == 5)
            p += 4;
        else
            test_fail(__FILE__, __LINE__, "unexpected wire type %d", wt);
        if (f == field && idx-- == 0) {
            if (out)
                *out = start;
            if (outlen)
                *outlen = n;
            if (val)
                *val = v;
            return true;
        }
    }
    return false;
}

static int wire_count(const void *msg, size_t len, int field)
{
    int n = 0;
    while (wire_field(msg, len, field, n, NULL, NULL, NULL))
        n++;
    return n;
}

/* Submessage payload of field; fails the test when absent. */
static const unsigned char *wire_sub(const void *msg, size_t len, int field, int idx, size_t *outlen)
{
    const unsigned char *p;
    if (!wire_field(msg, len, field, idx, &p, outlen, NULL))
        test_fail(__FILE__, __LINE__, "field %d[%d] missing", field, idx);
    return p;
}

static char *wire_str(const void *msg, size_t len, int field)
{
    const unsigned char *p;
    size_t n;
    if (!wire_field(msg, len, field, 0, &p, &n, NULL))
        return strdup("");
    return strndup((const char *)p, n);
}

static const char *copy_fixture(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/registry.db", test_tmpdir());
    size_t n;
    char *data = test_read_file(test_fixture("credit_scoring_registry.db"), &n);
    ASSERT_TRUE(data != NULL);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    free(data);
    return path;
}

static const struct feast_view *find(const struct feast_view *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    test_fail(__FILE__, __LINE__, "view %s not found", name);
}

/* ---- reading ---- */

TEST(registry_fixture_projects_and_entities)
{
    struct ferry_err err_ = {0}, *err = &err_;
    struct registry *reg;
    ASSERT_OK(registry_load(test_fixture("credit_scoring_registry.db"), &reg, err), err);
    char **names;
    size_t n;
    ASSERT_OK(registry_projects(reg, &names, &n), err);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(names[0], "credit_scoring_aws");
    free(names[0]);
    free(names);

    struct feast_entity *es;
    ASSERT_OK(registry_entities(reg, "credit_scoring_aws", &es, &n, err), err);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_STR(es[0].name, "__dummy");
    ASSERT_EQ_STR(es[0].join_key, "__dummy_id");
    ASSERT_EQ_STR(es[1].name, "zipcode");
    ASSERT_EQ_STR(es[1].join_key, "zipcode");
    ASSERT_EQ_STR(es[1].description, "A zipcode");
    ASSERT_EQ_INT(es[1].ntags, 2);
    ASSERT_EQ_STR(es[2].name, "dob_ssn");
    ASSERT_EQ_STR(es[2].description, "Date of birth and last four digits of social security number");
    registry_entities_free(es, n);

    ASSERT_OK(registry_entities(reg, "other_project", &es, &n, err), err);
    ASSERT_EQ_INT(n, 0);
    registry_free(reg);
}

TEST(registry_fixture_views)
{
    struct ferry_err err_ = {0}, *err = &err_;
    struct registry *reg;
    ASSERT_OK(registry_load(test_fixture("credit_scoring_registry.db"), &reg, err), err);
    struct feast_view *vs;
    size_t n;
    ASSERT_OK(registry_views(reg, "credit_scoring_aws", &vs, &n, err), err);
    ASSERT_EQ_INT(n, 4);   /* three feature views, then the on-demand view */
    ASSERT_EQ_STR(vs[0].name, "credit_history");
    ASSERT_EQ_STR(vs[1].name, "zipcode_features");
    ASSERT_EQ_STR(vs[2].name, "zipcode_money_features");

    const struct feast_view *ch = &vs[0];
    ASSERT_EQ_INT(ch->kind, FEAST_VIEW_BATCH);
    ASSERT_EQ_INT(ch->nentities, 1);
    ASSERT_EQ_STR(ch->entities[0], "dob_ssn");
    ASSERT_EQ_INT(ch->nentity_columns, 1);
    ASSERT_EQ_STR(ch->entity_columns[0].name, "dob_ssn");
    ASSERT_EQ_INT(ch->entity_columns[0].vtype, FEAST_VT_STRING);
    ASSERT_EQ_INT(ch->nfeatures, 9);
    ASSERT_EQ_STR(ch->features[0].name, "credit_card_due");
    ASSERT_EQ_STR(ch->features[8].name, "bankruptcies");
    for (size_t i = 0; i < ch->nfeatures; i++)
        ASSERT_EQ_INT(ch->features[i].vtype, FEAST_VT_INT64);
    ASSERT_EQ_INT(ch->ttl_ns, INT64_C(777600000) * SEC);   /* ttl { 1: 777600000 } */
    ASSERT_TRUE(ch->online);
    ASSERT_FALSE(ch->offline);
    ASSERT_FALSE(ch->disabled);
    ASSERT_EQ_STR(ch->source.path, "data/credit_history.parquet");
    ASSERT_EQ_INT(ch->source.file_format, FEAST_FORMAT_PARQUET);
    ASSERT_EQ_STR(ch->source.name, "credit_history");
    ASSERT_EQ_STR(ch->source.timestamp_field, "event_timestamp");
    ASSERT_EQ_STR(ch->source.created_column, "created_timestamp");
    ASSERT_EQ_INT(ch->ntags, 3);
    ASSERT_EQ_STR(ch->tags[0].key, "date_added");
    ASSERT_EQ_STR(ch->tags[0].value, "2022-02-6");
    ASSERT_EQ_INT(ch->nintervals, 0);
    ASSERT_EQ_INT(ch->state, FEAST_STATE_UNSPECIFIED);
    ASSERT_EQ_INT(ch->created_ns, INT64_C(1732119012) * SEC + 904918000);

    const struct feast_view *zf = &vs[1];
    ASSERT_EQ_STR(zf->entity_columns[0].name, "zipcode");
    ASSERT_EQ_INT(zf->entity_columns[0].vtype, FEAST_VT_INT64);
    ASSERT_EQ_INT(zf->nfeatures, 6);
    const char *names[] = {"city", "state", "location_type", "tax_returns_filed", "population", "total_wages"};
    const int types[] = {2, 2, 2, 4, 4, 4};
    for (size_t i = 0; i < 6; i++) {
        ASSERT_EQ_STR(zf->features[i].name, names[i]);
        ASSERT_EQ_INT(zf->features[i].vtype, types[i]);
    }
    ASSERT_EQ_INT(zf->ttl_ns, INT64_C(315360000) * SEC);
    ASSERT_EQ_STR(zf->source.path, "data/zipcode_table.parquet");

    const struct feast_view *zm = &vs[2];
    ASSERT_EQ_INT(zm->nfeatures, 2);
    ASSERT_EQ_STR(zm->features[1].name, "total_wages");

    const struct feast_view *od = &vs[3];
    ASSERT_EQ_STR(od->name, "transaction_gt_last_credit_card_due");
    ASSERT_EQ_INT(od->kind, FEAST_VIEW_ON_DEMAND);
    ASSERT_FALSE(od->write_to_online_store);
    ASSERT_EQ_STR(od->entities[0], "__dummy");
    ASSERT_EQ_STR(od->entity_columns[0].name, "__dummy_id");
    ASSERT_EQ_INT(od->entity_columns[0].vtype, FEAST_VT_STRING);
    ASSERT_EQ_INT(od->features[0].vtype, FEAST_VT_BOOL);
    registry_views_free(vs, n);
    registry_free(reg);
}

TEST(registry_load_errors)
{
    struct ferry_err err_ = {0}, *err = &err_;
    struct registry *reg;
    char path[512];
    snprintf(path, sizeof path, "%s/missing.db", test_tmpdir());
    ASSERT_EQ_INT(registry_load(path, &reg, err), FERRY_ENOTFOUND);
    snprintf(path, sizeof path, "%s/garbage.db", test_tmpdir());
    test_write_file(path, "\xff\xff\xff\xff this is not a protobuf");
    ASSERT_EQ_INT(registry_load(path, &reg, err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err->msg, path);
}

/* ---- writes ---- */

TEST(registry_roundtrip_keeps_unknown_fields)
{
    struct ferry_err err_ = {0}, *err = &err_;
    size_t olen, nlen;
    char *orig = test_read_file(test_fixture("credit_scoring_registry.db"), &olen);
    const char *path = copy_fixture();
    /* A load-modify-save that touches only one view's meta. */
    int prev = -1;
    ASSERT_OK(registry_set_state(path, "credit_scoring_aws", "zipcode_features", FEAST_STATE_GENERATED, &prev,
                                 err), err);
    ASSERT_EQ_INT(prev, FEAST_STATE_UNSPECIFIED);
    char *now = test_read_file(path, &nlen);

    /* feature_view_version_history (18) is not modelled: its bytes must come back identical. */
    size_t a, b;
    const unsigned char *h0 = wire_sub(orig, olen, 18, 0, &a);
    const unsigned char *h1 = wire_sub(now, nlen, 18, 0, &b);
    ASSERT_EQ_INT(a, b);
    ASSERT_TRUE(memcmp(h0, h1, a) == 0);
    /* Feature services (7): five in the fixture, none lost. */
    ASSERT_EQ_INT(wire_count(orig, olen, 7), 5);
    ASSERT_EQ_INT(wire_count(now, nlen, 7), 5);
    /* The on-demand view keeps its unmodelled sources (4) and transformation (10) inside its spec. */
    size_t sl;
    const unsigned char *od = wire_sub(now, nlen, 8, 0, &sl);
    const unsigned char *spec = wire_sub(od, sl, 1, 0, &sl);
    ASSERT_EQ_INT(wire_count(spec, sl, 4), 2);
    ASSERT_EQ_INT(wire_count(spec, sl, 10), 1);
    /* Feature view meta fields 4/5 (version number, version id) survive. */
    size_t fl;
    const unsigned char *fv = wire_sub(now, nlen, 6, 0, &fl);
    const unsigned char *meta = wire_sub(fv, fl, 2, 0, &fl);
    char *vid = wire_str(meta, fl, 5);
    ASSERT_EQ_STR(vid, "fv-ver-1-wce4cgma");
    free(vid);

    struct registry *reg;
    ASSERT_OK(registry_load(path, &reg, err), err);
    struct feast_view *vs;
    size_t n;
    ASSERT_OK(registry_views(reg, "credit_scoring_aws", &vs, &n, err), err);
    ASSERT_EQ_INT(find(vs, n, "zipcode_features")->state, FEAST_STATE_GENERATED);
    registry_views_free(vs, n);
    registry_free(reg);
    free(orig);
    free(now);
}

TEST(registry_record_materialization_golden)
{
    struct ferry_err err_ = {0}, *err = &err_;
    const char *path = copy_fixture();
    int64_t start = INT64_C(1618210800) * SEC;                  /* 2021-04-12T07:00:00Z */
    int64_t end = INT64_C(1618297200) * SEC + 123456000;         /* 2021-04-13T07:00:00.123456Z */
    ASSERT_OK(registry_record_materialization(path, "credit_scoring_aws", "credit_history", start, end, err),
              err);
    size_t len;
    char *data = test_read_file(path, &len);
    /* The view moved to the end of feature_views (field 6). */
    ASSERT_EQ_INT(wire_count(data, len, 6), 3);
    size_t fl, sl, ml, il;
    const unsigned char *fv = wire_sub(data, len, 6, 2, &fl);
    const unsigned char *spec = wire_sub(fv, fl, 1, 0, &sl);
    char *name = wire_str(spec, sl, 1);
    ASSERT_EQ_STR(name, "credit_history");
    free(name);
    const unsigned char *first = wire_sub(data, len, 6, 0, &fl);
    name = wire_str(wire_sub(first, fl, 1, 0, &sl), sl, 1);
    ASSERT_EQ_STR(name, "zipcode_features");
    free(name);
    fv = wire_sub(data, len, 6, 2, &fl);
    const unsigned char *meta = wire_sub(fv, fl, 2, 0, &ml);
    ASSERT_EQ_INT(wire_count(meta, ml, 3), 1);
    const unsigned char *iv = wire_sub(meta, ml, 3, 0, &il);
    ASSERT_EQ_HEX(iv, il, "0a0608f0dfcf8306120b08f082d58306108094ef3a");   /* feast-compat §2.8 */
    uint64_t state = 0;
    ASSERT_TRUE(wire_field(meta, ml, 6, 0, NULL, NULL, &state));
    ASSERT_EQ_INT(state, 4);
    /* last_updated_timestamp moved past the fixture's 1732119012. */
    const unsigned char *lu = wire_sub(meta, ml, 2, 0, &il);
    uint64_t secs = 0;
    ASSERT_TRUE(wire_field(lu, il, 1, 0, NULL, NULL, &secs));
    ASSERT_TRUE(secs > 1732119012u);
    /* A new uuid4 version id. */
    char *vid = wire_str(data, len, 4);
    ASSERT_EQ_INT(strlen(vid), 36);
    ASSERT_TRUE(strcmp(vid, "1607e20e-dc39-45a8-9e5b-ec52ba7176ef") != 0);
    ASSERT_EQ_INT(vid[14], '4');
    free(vid);
    free(data);

    /* A touching interval merges: [start, end] + [end, end+1h] = one interval. */
    ASSERT_OK(registry_record_materialization(path, "credit_scoring_aws", "credit_history", end,
                                              end + 3600 * SEC, err), err);
    struct registry *reg;
    ASSERT_OK(registry_load(path, &reg, err), err);
    struct feast_view *vs;
    size_t n;
    ASSERT_OK(registry_views(reg, "credit_scoring_aws", &vs, &n, err), err);
    const struct feast_view *ch = find(vs, n, "credit_history");
    ASSERT_EQ_INT(ch->nintervals, 1);
    ASSERT_EQ_INT(ch->intervals[0].start_ns, start);
    ASSERT_EQ_INT(ch->intervals[0].end_ns, end + 3600 * SEC);
    ASSERT_EQ_INT(ch->state, FEAST_STATE_AVAILABLE_ONLINE);
    registry_views_free(vs, n);
    registry_free(reg);
}

TEST(registry_failed_write_leaves_file_unchanged)
{
    struct ferry_err err_ = {0}, *err = &err_;
    const char *path = copy_fixture();
    uint64_t h = test_file_hash(path);
    ASSERT_EQ_INT(registry_record_materialization(path, "credit_scoring_aws", "no_such_view", 0, SEC, err),
                  FERRY_ENOTFOUND);
    ASSERT_CONTAINS(err->msg, "no_such_view");
    ASSERT_EQ_INT(registry_record_materialization(path, "credit_scoring_aws", "credit_history", SEC, 0, err),
                  FERRY_EINVAL);
    ASSERT_EQ_INT(test_file_hash(path), h);
    /* Make the atomic write fail: a directory sits where file_write_atomic puts its temp file
     * ("<path>.tmp.<pid>"), which even root cannot open for writing. */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ASSERT_EQ_INT(mkdir(tmp, 0755), 0);
    ASSERT_EQ_INT(registry_record_materialization(path, "credit_scoring_aws", "credit_history", 0, SEC, err),
                  FERRY_EIO);
    ASSERT_EQ_INT(test_file_hash(path), h);
    rmdir(tmp);
}

TEST(registry_concurrent_records_all_survive)
{
    struct ferry_err err_ = {0}, *err = &err_;
    const char *path = copy_fixture();
    int64_t base = INT64_C(1700000000) * SEC;
    pid_t kids[2];
    for (int c = 0; c < 2; c++) {
        fflush(NULL);
        kids[c] = fork();
        if (kids[c] == 0) {
            for (int i = 0; i < 10; i++) {
                int64_t s = base + (int64_t)(c * 10 + i) * 10 * SEC;   /* disjoint, never touching */
                if (registry_record_materialization(path, "credit_scoring_aws", "credit_history", s, s + 5 * SEC,
                                                    NULL) != 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int c = 0; c < 2; c++) {
        int st;
        waitpid(kids[c], &st, 0);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct registry *reg;
    ASSERT_OK(registry_load(path, &reg, err), err);
    struct feast_view *vs;
    size_t n;
    ASSERT_OK(registry_views(reg, "credit_scoring_aws", &vs, &n, err), err);
    const struct feast_view *ch = find(vs, n, "credit_history");
    ASSERT_EQ_INT(ch->nintervals, 20);
    for (int k = 0; k < 20; k++)
        ASSERT_EQ_INT(ch->intervals[k].start_ns, base + (int64_t)k * 10 * SEC);
    registry_views_free(vs, n);
    registry_free(reg);
}

/* ---- interval merging ---- */

TEST(registry_merge_interval_cases)
{
    struct feast_interval *l = NULL;
    size_t n = 0;
    registry_merge_interval(&l, &n, (struct feast_interval){10, 20});
    registry_merge_interval(&l, &n, (struct feast_interval){40, 50});   /* disjoint, after */
    registry_merge_interval(&l, &n, (struct feast_interval){0, 5});     /* disjoint, before */
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(l[0].start_ns, 0);
    ASSERT_EQ_INT(l[1].start_ns, 10);
    ASSERT_EQ_INT(l[2].start_ns, 40);
    registry_merge_interval(&l, &n, (struct feast_interval){12, 15});   /* contained */
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(l[1].start_ns, 10);
    ASSERT_EQ_INT(l[1].end_ns, 20);
    registry_merge_interval(&l, &n, (struct feast_interval){18, 30});   /* overlaps the end */
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(l[1].end_ns, 30);
    registry_merge_interval(&l, &n, (struct feast_interval){30, 40});   /* touches both neighbours */
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(l[0].start_ns, 0);
    ASSERT_EQ_INT(l[0].end_ns, 5);
    ASSERT_EQ_INT(l[1].start_ns, 10);
    ASSERT_EQ_INT(l[1].end_ns, 50);
    registry_merge_interval(&l, &n, (struct feast_interval){-5, 100}); /* covers all */
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(l[0].start_ns, -5);
    ASSERT_EQ_INT(l[0].end_ns, 100);
    free(l);
}

/* ---- apply ---- */

static void demo_defs(struct feast_defs *d)
{
    memset(d, 0, sizeof *d);
    d->nentities = 1;
    d->entities = calloc(1, sizeof *d->entities);
    d->entities[0] = (struct feast_entity){strdup("driver"), strdup("driver_id"), FEAST_VT_INT64,
                                           strdup("A driver"), NULL, 0};
    d->nviews = 2;
    d->views = calloc(2, sizeof *d->views);
    struct feast_view *v = &d->views[0];
    v->name = strdup("driver_hourly_stats");
    v->kind = FEAST_VIEW_BATCH;
    v->nentities = 1;
    v->entities = calloc(1, sizeof *v->entities);
    v->entities[0] = strdup("driver");
    v->nfeatures = 2;
    v->features = calloc(2, sizeof *v->features);
    v->features[0] = (struct feast_feature){strdup("conv_rate"), FEAST_VT_FLOAT, NULL};
    v->features[1] = (struct feast_feature){strdup("avg_daily_trips"), FEAST_VT_INT64, NULL};
    v->ttl_ns = 86400 * SEC;
    v->online = true;
    v->source = (struct feast_source){.name = strdup("driver_stats"), .kind = FEAST_SOURCE_FILE,
                                      .path = strdup("data/driver_stats.parquet"),
                                      .file_format = FEAST_FORMAT_PARQUET,
                                      .timestamp_field = strdup("event_timestamp"),
                                      .created_column = strdup("created")};
    v = &d->views[1];
    v->name = strdup("global_stats");
    v->kind = FEAST_VIEW_BATCH;
    v->nfeatures = 1;
    v->features = calloc(1, sizeof *v->features);
    v->features[0] = (struct feast_feature){strdup("total"), FEAST_VT_DOUBLE, NULL};
    v->online = true;
    v->source = (struct feast_source){.kind = FEAST_SOURCE_FILE, .path = strdup("data/global.csv"),
                                      .file_format = FEAST_FORMAT_CSV,
                                      .timestamp_field = strdup("ts")};
}

TEST(registry_apply_fresh_then_reload)
{
    struct ferry_err err_ = {0}, *err = &err_;
    char path[512];
    snprintf(path, sizeof path, "%s/data/registry.db", test_tmpdir());   /* parent does not exist yet */
    struct feast_defs d;
    demo_defs(&d);
    ASSERT_OK(registry_apply(path, "demo", &d, "/srv/online.db", err), err);

    size_t len;
    char *data = test_read_file(path, &len);
    char *s = wire_str(data, len, 3);
    ASSERT_EQ_STR(s, "1");                                  /* registry_schema_version */
    free(s);
    ASSERT_EQ_INT(wire_count(data, len, 17), 1);            /* projects */
    ASSERT_EQ_INT(wire_count(data, len, 15), 1);            /* project_metadata */
    ASSERT_EQ_INT(wire_count(data, len, 12), 2);            /* data_sources */
    size_t l, l2, l3;
    const unsigned char *ds = wire_sub(data, len, 12, 0, &l);
    s = wire_str(ds, l, 17);
    ASSERT_EQ_STR(s, "feast.infra.offline_stores.file_source.FileSource");
    free(s);
    s = wire_str(ds, l, 21);
    ASSERT_EQ_STR(s, "demo");
    free(s);
    /* Parquet source: file_options (11) holds file_format (1) with parquet_format (1); CSV: none. */
    const unsigned char *fo = wire_sub(ds, l, 11, 0, &l2);
    const unsigned char *ff = wire_sub(fo, l2, 1, 0, &l3);
    ASSERT_EQ_INT(wire_count(ff, l3, 1), 1);
    ds = wire_sub(data, len, 12, 1, &l);
    s = wire_str(ds, l, 20);
    ASSERT_EQ_STR(s, "data/global.csv");                    /* name defaults to the path */
    free(s);
    fo = wire_sub(ds, l, 11, 0, &l2);
    ASSERT_EQ_INT(wire_count(fo, l2, 1), 0);
    /* Infra: one SqliteTable (4) per online view, named {project}_{view}. */
    const unsigned char *inf = wire_sub(data, len, 10, 0, &l);
    ASSERT_EQ_INT(wire_count(inf, l, 1), 2);
    const unsigned char *obj = wire_sub(inf, l, 1, 0, &l2);
    s = wire_str(obj, l2, 1);
    ASSERT_EQ_STR(s, "feast.infra.online_stores.sqlite.SqliteTable");
    free(s);
    const unsigned char *st = wire_sub(obj, l2, 4, 0, &l3);
    s = wire_str(st, l3, 2);
    ASSERT_EQ_STR(s, "demo_driver_hourly_stats");
    free(s);
    s = wire_str(st, l3, 1);
    ASSERT_EQ_STR(s, "/srv/online.db");
    free(s);
    /* The ttl Duration is present (field 6 of the spec) and new views carry no state. */
    const unsigned char *fv = wire_sub(data, len, 6, 0, &l);
    const unsigned char *spec = wire_sub(fv, l, 1, 0, &l2);
    const unsigned char *ttl = wire_sub(spec, l2, 6, 0, &l3);
    ASSERT_EQ_HEX(ttl, l3, "08 80a305");                    /* seconds = 86400 */
    const unsigned char *meta = wire_sub(fv, l, 2, 0, &l2);
    ASSERT_EQ_INT(wire_count(meta, l2, 6), 0);
    free(data);

    struct registry *reg;
    ASSERT_OK(registry_load(path, &reg, err), err);
    char **names;
    size_t n;
    registry_projects(reg, &names, &n);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(names[0], "demo");
    free(names[0]);
    free(names);
    struct feast_entity *es;
    ASSERT_OK(registry_entities(reg, "demo", &es, &n, err), err);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(es[0].name, "driver");
    ASSERT_EQ_STR(es[0].join_key, "driver_id");
    ASSERT_EQ_INT(es[0].vtype, FEAST_VT_INT64);
    ASSERT_EQ_STR(es[1].name, "__dummy");
    ASSERT_EQ_STR(es[1].join_key, "__dummy_id");
    registry_entities_free(es, n);
    struct feast_view *vs;
    ASSERT_OK(registry_views(reg, "demo", &vs, &n, err), err);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(vs[0].name, "driver_hourly_stats");
    ASSERT_EQ_STR(vs[0].entity_columns[0].name, "driver_id");   /* inferred from the entity at apply */
    ASSERT_EQ_INT(vs[0].entity_columns[0].vtype, FEAST_VT_INT64);
    ASSERT_EQ_INT(vs[0].ttl_ns, 86400 * SEC);
    ASSERT_EQ_STR(vs[0].source.created_column, "created");
    ASSERT_EQ_INT(vs[0].features[0].vtype, FEAST_VT_FLOAT);
    ASSERT_EQ_STR(vs[1].entities[0], "__dummy");
    ASSERT_EQ_STR(vs[1].entity_columns[0].name, "__dummy_id");
    ASSERT_EQ_INT(vs[1].entity_columns[0].vtype, FEAST_VT_STRING);
    ASSERT_EQ_INT(vs[1].source.file_format, FEAST_FORMAT_CSV);
    registry_views_free(vs, n);
    registry_free(reg);

    /* Re-applying keeps intervals and state of an existing view, and adds no second project. */
    ASSERT_OK(registry_record_materialization(path, "demo", "driver_hourly_stats", 0, 10 * SEC, err), err);
    d.views[0].nfeatures = 1;
    ASSERT_OK(registry_apply(path, "demo", &d, "/srv/online.db", err), err);
    ASSERT_OK(registry_load(path, &reg, err), err);
    ASSERT_OK(registry_views(reg, "demo", &vs, &n, err), err);
    const struct feast_view *v = find(vs, n, "driver_hourly_stats");
    ASSERT_EQ_INT(v->nfeatures, 1);
    ASSERT_EQ_INT(v->nintervals, 1);
    ASSERT_EQ_INT(v->intervals[0].end_ns, 10 * SEC);
    ASSERT_EQ_INT(v->state, FEAST_STATE_AVAILABLE_ONLINE);
    registry_views_free(vs, n);
    registry_free(reg);
    data = test_read_file(path, &len);
    ASSERT_EQ_INT(wire_count(data, len, 17), 1);
    ASSERT_EQ_INT(wire_count(data, len, 12), 2);
    ASSERT_EQ_INT(wire_count(wire_sub(data, len, 10, 0, &l), l, 1), 2);
    free(data);
    d.views[0].nfeatures = 2;
    feast_defs_cleanup(&d);
}
