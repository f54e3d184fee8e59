/* datagen: writes realistic, deterministic feature data as Parquet for the example and the
 * benchmark, using DuckDB's own random generator with a fixed seed (single-threaded, so the same
 * seed gives the same file).
 *
 *   datagen driver-stats OUT.parquet [--drivers N] [--days D] [--end YYYY-MM-DD] [--seed S]
 *   datagen bench OUT.parquet [--entities N] [--rows R] [--days D] [--end YYYY-MM-DD] [--seed S]
 *
 * driver-stats mirrors Feast's driver_stats example: hourly rows per driver, event_timestamp
 * (UTC), conv_rate and acc_rate float32, avg_daily_trips int32, created timestamp.
 * bench is the benchmark's data (bench/run): N entities (entity_id BIGINT from 1), R rows per
 * entity spread evenly over the D days before END (each entity at its own offset, so no two rows
 * of an entity share a time and the latest row is well defined), created 5 minutes after the
 * event, and ten features of mixed types: f_float32_a/b FLOAT, f_float64_a/b DOUBLE, f_int32
 * INTEGER, f_int64_a/b BIGINT, f_string_a/b VARCHAR, f_bool BOOLEAN (f_string_b is null in about
 * 5% of rows, so null Values are part of the load). */
#include <duckdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: datagen driver-stats OUT.parquet [--drivers N] [--days D] [--end YYYY-MM-DD] [--seed S]\n"
                    "       datagen bench OUT.parquet [--entities N] [--rows R] [--days D] [--end YYYY-MM-DD] [--seed S]\n");
    return 2;
}

static int run(duckdb_connection con, const char *sql)
{
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        fprintf(stderr, "datagen: %s\n", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return 1;
    }
    duckdb_destroy_result(&res);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "driver-stats") != 0 && strcmp(argv[1], "bench") != 0))
        return usage();
    bool bench = strcmp(argv[1], "bench") == 0;
    const char *out = argv[2];
    long drivers = 5, days = 15, rows = 4;
    double seed = 0.42;
    const char *end = "2021-04-12";
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], bench ? "--entities" : "--drivers") == 0)
            drivers = strtol(argv[i + 1], NULL, 10);
        else if (bench && strcmp(argv[i], "--rows") == 0)
            rows = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--days") == 0)
            days = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--end") == 0)
            end = argv[i + 1];
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtod(argv[i + 1], NULL);
        else
            return usage();
    }
    if (drivers < 1 || days < 1 || rows < 1 || rows > days * 86400 || seed < -1 || seed > 1 || strlen(end) != 10 || strchr(out, '\''))
        return usage();
    duckdb_database db;
    duckdb_connection con;
    if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) {
        fprintf(stderr, "datagen: cannot open DuckDB\n");
        return 1;
    }
    char sql[2048];
    snprintf(sql, sizeof sql, "SET threads=1; SET TimeZone='UTC'; SELECT setseed(%f);", seed);
    int rc = run(con, sql);
    if (bench) {
        /* Row j of entity i is at start + j*step + (i mod step) seconds, step = window / R: R rows
         * per entity over the whole window, all distinct, none after END. Sorted by time like a
         * real event log, so each row group holds many entities. */
        long span = days * 86400, step = span / rows;
        snprintf(sql, sizeof sql,
                 "COPY (SELECT CAST(i + 1 AS BIGINT) AS entity_id,"
                 " ts AS event_timestamp,"
                 " CAST(ts + INTERVAL 5 MINUTE AS TIMESTAMP) AS created,"
                 " CAST(random() AS FLOAT) AS f_float32_a,"
                 " random() * 1000 AS f_float64_a,"
                 " CAST(floor(random() * 100000) AS INTEGER) AS f_int32,"
                 " CAST(floor(random() * 1e12) AS BIGINT) AS f_int64_a,"
                 " 'cat_' || CAST(floor(random() * 1000) AS INTEGER) AS f_string_a,"
                 " random() < 0.5 AS f_bool,"
                 " CAST(random() * 10 AS FLOAT) AS f_float32_b,"
                 " random() AS f_float64_b,"
                 " CAST(floor(random() * 1000) AS BIGINT) - 500 AS f_int64_b,"
                 " CASE WHEN random() < 0.05 THEN NULL ELSE md5(CAST(i * %ld + j AS VARCHAR)) END AS f_string_b"
                 " FROM (SELECT i, j, CAST(TIMESTAMP '%s 00:00:00' - INTERVAL %ld DAY"
                 "        + to_seconds(j * %ld + i %% %ld) AS TIMESTAMP) AS ts"
                 "       FROM range(%ld) e(i), range(%ld) r(j))"
                 " ORDER BY ts, entity_id) TO '%s' (FORMAT parquet)",
                 rows, end, days, step, step, drivers, rows, out);
    } else {
        /* Hourly rows ending at `end` 00:00 UTC; created is a little after the event, as a pipeline
         * that lands data late would write it. */
        snprintf(sql, sizeof sql,
                 "COPY (SELECT ts AS event_timestamp, driver_id,"
                 " CAST(random() AS FLOAT) AS conv_rate,"
                 " CAST(random() AS FLOAT) AS acc_rate,"
                 " CAST(floor(random() * 1000) AS INTEGER) AS avg_daily_trips,"
                 " CAST(ts + INTERVAL 5 MINUTE AS TIMESTAMP) AS created"
                 " FROM range(1001, 1001 + %ld) d(driver_id),"
                 "      generate_series(TIMESTAMPTZ '%s 00:00:00+00' - INTERVAL %ld DAY,"
                 "                      TIMESTAMPTZ '%s 00:00:00+00' - INTERVAL 1 HOUR, INTERVAL 1 HOUR) g(ts)"
                 " ORDER BY ts, driver_id) TO '%s' (FORMAT parquet)",
                 drivers, end, days, end, out);
    }
    if (!rc)
        rc = run(con, sql);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    if (!rc)
        printf("datagen: wrote %ld %s x %ld rows to %s\n", drivers, bench ? "entities" : "drivers",
               bench ? rows : days * 24, out);
    return rc;
}
