/* The read -> encode -> write pipeline for one view and window. The offline read (which also
 * encodes rows into Feast's formats) runs on a reader thread and hands full batches to a bounded
 * queue; the calling thread writes them to the online store. Memory is bounded by
 * (queue_batches + 2) batches of batch_rows rows, whatever the size of the window. A failure on
 * either side stops the other at its next batch boundary. */
#include "engine/engine_internal.h"

#include "core/time.h"
#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct batch_queue {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    struct feast_batch **full;        /* ring of batches waiting to be written */
    size_t cap, head, count;
    struct feast_batch **spare;       /* written batches ready for reuse */
    size_t nspare, spare_cap;
    const struct feast_schema *schema;
    size_t batch_rows;
    bool reader_done;
    volatile int stop;                /* set by the writer on failure or cancel; read by the reader */
    const volatile int *cancel;
};

static struct feast_batch *batch_new(const struct batch_queue *q, struct ferry_err *err)
{
    struct feast_batch *b = xcalloc(1, sizeof *b);
    if (feast_batch_init(b, q->schema, q->batch_rows) != 0) {
        free(b);
        ferry_errf(err, FERRY_ENOMEM, "cannot allocate a batch of %zu rows", q->batch_rows);
        return NULL;
    }
    return b;
}

static void batch_free(struct feast_batch *b)
{
    if (b) {
        feast_batch_cleanup(b);
        free(b);
    }
}

static bool stopped(const struct batch_queue *q)
{
    return q->stop || (q->cancel && *q->cancel);
}

/* Reader side: queue the full batch, give the reader an empty one. */
static int queue_emit(void *ctx, struct feast_batch **batch, struct ferry_err *err)
{
    struct batch_queue *q = ctx;
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap && !stopped(q))
        pthread_cond_wait(&q->changed, &q->mu);
    if (stopped(q)) {
        pthread_mutex_unlock(&q->mu);
        return ferry_errf(err, FERRY_ECANCELED, "canceled");
    }
    q->full[(q->head + q->count) % q->cap] = *batch;
    q->count++;
    struct feast_batch *next = q->nspare ? q->spare[--q->nspare] : NULL;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
    if (!next && !(next = batch_new(q, err)))
        return err->code;
    feast_batch_reset(next);
    *batch = next;
    return 0;
}

struct reader_ctx {
    struct batch_queue *q;
    struct offline_store *offline;
    struct offline_pull pull;
    int rc;
    struct ferry_err err;
};

static void *reader_main(void *arg)
{
    struct reader_ctx *r = arg;
    r->rc = offline_pull_latest(r->offline, &r->pull, &r->err);
    pthread_mutex_lock(&r->q->mu);
    r->q->reader_done = true;
    pthread_cond_broadcast(&r->q->changed);
    pthread_mutex_unlock(&r->q->mu);
    return NULL;
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int engine_pipeline_run(const struct pipeline_args *a, struct engine_view_run *run, struct ferry_err *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct batch_queue q = {.schema = a->schema, .cancel = a->cancel};
    q.batch_rows = a->cfg->ferry.batch_rows ? a->cfg->ferry.batch_rows : 10000;
    q.cap = a->cfg->ferry.queue_batches ? a->cfg->ferry.queue_batches : 4;
    q.full = xcalloc(q.cap, sizeof *q.full);
    q.spare_cap = q.cap + 2;
    q.spare = xcalloc(q.spare_cap, sizeof *q.spare);
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.changed, NULL);

    /* Once per run, before any batch: the store may learn here that nothing is stored yet (Redis
     * then writes without reading first), which holds because this run's one offline pull yields
     * at most one row per entity key and no other job of this view runs meanwhile. */
    int rc = online_begin_view(a->online, a->cfg->project, a->view, err);
    if (rc)
        goto out_noreader;
    struct reader_ctx r = {.q = &q, .offline = a->offline};
    r.pull = (struct offline_pull){
        .view = a->view, .schema = a->schema, .start_ns = run->start_ns, .end_ns = run->end_ns,
        .batch_rows = q.batch_rows, .emit = queue_emit, .ctx = &q, .cancel = &q.stop,
    };
    pthread_t reader;
    if (pthread_create(&reader, NULL, reader_main, &r) != 0) {
        rc = ferry_errf(err, FERRY_EINTERNAL, "cannot start the reader thread");
        goto out_noreader;
    }

    /* Writer: drain until the reader is done and the queue is empty. */
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (q.count == 0 && !q.reader_done && !(q.cancel && *q.cancel))
            pthread_cond_wait(&q.changed, &q.mu);
        if (q.cancel && *q.cancel && !q.stop) {
            q.stop = 1;
            pthread_cond_broadcast(&q.changed);
            pthread_mutex_unlock(&q.mu);
            rc = ferry_errf(err, FERRY_ECANCELED, "view %s: canceled", a->view->name);
            break;
        }
        if (q.count == 0 && q.reader_done) {
            pthread_mutex_unlock(&q.mu);
            break;
        }
        struct feast_batch *b = q.full[q.head];
        q.head = (q.head + 1) % q.cap;
        q.count--;
        pthread_cond_broadcast(&q.changed);
        pthread_mutex_unlock(&q.mu);

        struct online_write_stats st = {0};
        rc = online_write(a->online, a->cfg->project, a->view, b, &st, err);
        run->rows_written += st.rows_written;
        run->rows_skipped += st.rows_skipped;
        run->rows_read += b->nrows;
        run->batches++;

        pthread_mutex_lock(&q.mu);
        if (q.nspare < q.spare_cap)
            q.spare[q.nspare++] = b;
        else
            batch_free(b);
        if (rc) {
            q.stop = 1; /* the reader gives up at its next batch */
            pthread_cond_broadcast(&q.changed);
        }
        pthread_mutex_unlock(&q.mu);
        if (rc)
            break;
        if (a->cb && a->cb->progress)
            a->cb->progress(a->cb->ctx, run, run->rows_read, elapsed_since(&t0));
    }
    pthread_join(reader, NULL);
    /* The writer's error comes first; a reader that stopped only because the writer told it to has
     * nothing to add. */
    if (!rc && r.rc) {
        rc = r.rc;
        *err = r.err;
    }
    if (!rc && q.cancel && *q.cancel)
        rc = ferry_errf(err, FERRY_ECANCELED, "view %s: canceled", a->view->name);

out_noreader:
    for (size_t i = 0; i < q.count; i++)
        batch_free(q.full[(q.head + i) % q.cap]);
    for (size_t i = 0; i < q.nspare; i++)
        batch_free(q.spare[i]);
    free(q.full);
    free(q.spare);
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.changed);
    run->seconds = elapsed_since(&t0);
    return rc;
}
