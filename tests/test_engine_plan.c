/* engine planning: Feast's view eligibility (§2.1) and window rules (§2.2, §2.3), with ferry's
 * clamping of future ends. Times are hand-computed epoch values; "now" is fixed. */
#include "test.h"

#include "core/time.h"
#include "engine/engine_internal.h"

#define S(x) ((int64_t)(x) * FERRY_NS_PER_SEC)
#define NOW S(1618300800) /* 2021-04-13T08:00:00Z */

static struct feast_view make_view(const char *name, int kind, bool online, int64_t ttl_ns)
{
    struct feast_view v = {0};
    v.name = (char *)name;
    v.kind = kind;
    v.online = online;
    v.ttl_ns = ttl_ns;
    return v;
}

static struct ferry_config cfg(void)
{
    struct ferry_config c = {0};
    c.project = "p";
    c.online.type = "sqlite";
    return c;
}

TEST(plan_default_selection_follows_feast)
{
    struct feast_view views[] = {
        make_view("a", FEAST_VIEW_BATCH, true, 0),
        make_view("offline_only", FEAST_VIEW_BATCH, false, 0),
        make_view("s", FEAST_VIEW_STREAM, true, 0),
        make_view("odfv", FEAST_VIEW_ON_DEMAND, true, 0),
        make_view("off", FEAST_VIEW_BATCH, true, 0),
    };
    views[4].disabled = true;
    struct ferry_config c = cfg();
    struct engine_request req = {.mode = ENGINE_MATERIALIZE, .start_ns = S(1618185600), .end_ns = S(1618272000),
                                 .now_ns = NOW};
    struct engine_plan plan;
    struct ferry_err err = {0};
    ASSERT_OK(engine_plan_views(&c, &req, views, 5, &plan, &err), &err);
    ASSERT_EQ_INT(plan.nruns, 2);
    ASSERT_EQ_STR(plan.runs[0].view, "a");
    ASSERT_EQ_STR(plan.runs[1].view, "s");
    ASSERT_EQ_INT(plan.runs[0].start_ns, S(1618185600));
    ASSERT_EQ_INT(plan.runs[0].end_ns, S(1618272000));
    engine_plan_cleanup(&plan);
}

TEST(plan_named_views_are_checked)
{
    struct feast_view views[] = {
        make_view("a", FEAST_VIEW_BATCH, true, 0),
        make_view("dis", FEAST_VIEW_BATCH, true, 0),
        make_view("odfv", FEAST_VIEW_ON_DEMAND, true, 0),
    };
    views[1].disabled = true;
    struct ferry_config c = cfg();
    struct engine_plan plan;
    struct ferry_err err = {0};
    const char *unknown[] = {"nope"};
    struct engine_request req = {.mode = ENGINE_MATERIALIZE, .end_ns = S(1618272000), .now_ns = NOW,
                                 .views = unknown, .nviews = 1};
    ASSERT_EQ_INT(engine_plan_views(&c, &req, views, 3, &plan, &err), FERRY_ENOTFOUND);
    ASSERT_CONTAINS(err.msg, "'nope' not found in project 'p' (available: a, dis, odfv)");
    const char *dis[] = {"dis"};
    req.views = dis;
    ASSERT_EQ_INT(engine_plan_views(&c, &req, views, 3, &plan, &err), FERRY_EINVAL);
    ASSERT_CONTAINS(err.msg, "disabled");
    const char *dup[] = {"a", "a"};
    req.views = dup;
    req.nviews = 2;
    ASSERT_OK(engine_plan_views(&c, &req, views, 3, &plan, &err), &err);
    ASSERT_EQ_INT(plan.nruns, 1);
    engine_plan_cleanup(&plan);
}

TEST(plan_materialize_rejects_start_after_end_and_clamps_future_end)
{
    struct feast_view v = make_view("a", FEAST_VIEW_BATCH, true, 0);
    struct ferry_config c = cfg();
    struct engine_plan plan;
    struct ferry_err err = {0};
    struct engine_request req = {.mode = ENGINE_MATERIALIZE, .start_ns = S(2), .end_ns = S(1), .now_ns = NOW};
    ASSERT_EQ_INT(engine_plan_views(&c, &req, &v, 1, &plan, &err), FERRY_EINVAL);
    ASSERT_CONTAINS(err.msg, "after");
    /* start == end is allowed, as in Feast */
    req.start_ns = req.end_ns = S(1618185600);
    ASSERT_OK(engine_plan_views(&c, &req, &v, 1, &plan, &err), &err);
    ASSERT_FALSE(plan.runs[0].up_to_date);
    engine_plan_cleanup(&plan);
    /* an end a day after now becomes now */
    req.end_ns = NOW + S(86400);
    ASSERT_OK(engine_plan_views(&c, &req, &v, 1, &plan, &err), &err);
    ASSERT_EQ_INT(plan.runs[0].end_ns, NOW);
    engine_plan_cleanup(&plan);
    /* a window entirely in the future has nothing to do */
    req.start_ns = NOW + S(3600);
    ASSERT_OK(engine_plan_views(&c, &req, &v, 1, &plan, &err), &err);
    ASSERT_TRUE(plan.runs[0].up_to_date);
    engine_plan_cleanup(&plan);
}

TEST(plan_incremental_start_rules)
{
    struct feast_interval ivs[] = {{S(100), S(1618200000)}, {S(1618000000), S(1618250000)}, {S(5), S(10)}};
    struct feast_view with_iv = make_view("iv", FEAST_VIEW_BATCH, true, S(3600));
    with_iv.intervals = ivs;
    with_iv.nintervals = 3;
    struct feast_view ttl = make_view("ttl", FEAST_VIEW_BATCH, true, S(7200));
    struct feast_view zero = make_view("zero", FEAST_VIEW_BATCH, true, 0);
    struct feast_view views[] = {with_iv, ttl, zero};
    struct ferry_config c = cfg();
    struct engine_plan plan;
    struct ferry_err err = {0};
    struct engine_request req = {.mode = ENGINE_INCREMENTAL, .end_ns = NOW, .now_ns = NOW};
    ASSERT_OK(engine_plan_views(&c, &req, views, 3, &plan, &err), &err);
    ASSERT_EQ_INT(plan.nruns, 3);
    /* 1: the maximum interval end, not the last one listed */
    ASSERT_EQ_INT(plan.runs[0].start_ns, S(1618250000));
    ASSERT_FALSE(plan.runs[0].ttl_zero_default);
    /* 2: now - ttl */
    ASSERT_EQ_INT(plan.runs[1].start_ns, NOW - S(7200));
    /* 3: ttl 0 -> now - 52 weeks = now - 31,449,600 s */
    ASSERT_EQ_INT(plan.runs[2].start_ns, NOW - S(31449600));
    ASSERT_TRUE(plan.runs[2].ttl_zero_default);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(plan.runs[i].end_ns, NOW);
    engine_plan_cleanup(&plan);

    /* An end at or before the last recorded end: up to date, nothing recorded. */
    req.end_ns = S(1618250000);
    ASSERT_OK(engine_plan_views(&c, &req, views, 1, &plan, &err), &err);
    ASSERT_TRUE(plan.runs[0].up_to_date);
    engine_plan_cleanup(&plan);
}

TEST(plan_incremental_lookback_rereads_recent_time)
{
    struct feast_interval iv = {S(1618000000), S(1618250000)};
    struct feast_view v = make_view("iv", FEAST_VIEW_BATCH, true, S(3600));
    v.intervals = &iv;
    v.nintervals = 1;
    struct ferry_config c = cfg();
    struct engine_plan plan;
    struct ferry_err err = {0};
    struct engine_request req = {.mode = ENGINE_INCREMENTAL, .end_ns = NOW, .now_ns = NOW, .lookback_ns = S(1800)};
    ASSERT_OK(engine_plan_views(&c, &req, &v, 1, &plan, &err), &err);
    ASSERT_EQ_INT(plan.runs[0].start_ns, S(1618250000 - 1800));
    engine_plan_cleanup(&plan);
}
