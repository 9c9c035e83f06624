// LMDB's side of the point-access comparison, natively (no Python in the loop), to the same rules as
// compare-tensorlog's points-load / points-read. Built by run.sh when liblmdb-dev is installed:
//   lmdb_points load DIR KEYS     one write transaction of KEYS puts (MDB_APPEND), MDB_NOSYNC|MDB_NOMETASYNC
//   lmdb_points read DIR KEYS READS   READS random mdb_get in one read transaction, touching first and last byte
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
#define CHECK(x) do { int rc_ = (x); if (rc_) { fprintf(stderr, "%s: %s\n", #x, mdb_strerror(rc_)); exit(2); } } while (0)

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: lmdb_points load|read DIR KEYS [READS]\n"); return 64; }
    const char *dir = argv[2];
    long keys = atol(argv[3]);
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_mapsize(env, (size_t)keys * 4096 + (64 << 20)));
    char (*names)[16] = malloc(sizeof(*names) * (size_t)keys);
    for (long i = 0; i < keys; i++) snprintf(names[i], 16, "k/%08ld", i);
    if (strcmp(argv[1], "load") == 0) {
        CHECK(mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOMETASYNC, 0644));
        float value[256] = {0};
        double t = now();
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        CHECK(mdb_dbi_open(txn, NULL, 0, &dbi));
        for (long i = 0; i < keys; i++) {
            value[0] = (float)i;
            MDB_val k = {10, names[i]}, v = {sizeof value, value};
            CHECK(mdb_put(txn, dbi, &k, &v, MDB_APPEND));
        }
        CHECK(mdb_txn_commit(txn));
        double e = now() - t;
        mdb_env_close(env);
        printf("{\"seconds\": %.9f, \"keys\": %ld}\n", e, keys);
    } else {
        long reads = atol(argv[4]);
        CHECK(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0644));
        long *chosen = malloc(sizeof(long) * (size_t)reads);
        srand48((long)now());
        for (long i = 0; i < reads; i++) chosen[i] = lrand48() % keys;
        CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
        CHECK(mdb_dbi_open(txn, NULL, 0, &dbi));
        volatile unsigned sink = 0;
        double t = now();
        for (long i = 0; i < reads; i++) {
            MDB_val k = {10, names[chosen[i]]}, v;
            CHECK(mdb_get(txn, dbi, &k, &v));
            sink += ((unsigned char *)v.mv_data)[0] + ((unsigned char *)v.mv_data)[v.mv_size - 1];
        }
        double e = now() - t;
        mdb_txn_abort(txn);
        mdb_env_close(env);
        printf("{\"seconds\": %.9f, \"reads\": %ld, \"check\": %u}\n", e, reads, sink);
    }
    return 0;
}
