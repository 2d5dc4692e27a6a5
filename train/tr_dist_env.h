/* Who am I in a data-parallel job: the world as launchers describe it in
 * environment variables (torchrun, plain RANK/WORLD_SIZE, Open MPI, MPICH/PMI,
 * Slurm's srun). A pure function over an environment array, so that every
 * launcher's variables are table-tested without the launcher. */
#ifndef INGOT_TR_DIST_ENV_H
#define INGOT_TR_DIST_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_dist_env {
    const char *launcher;   /* "none", "torchrun", "env", "openmpi", "mpich", "slurm" */
    int rank, world;        /* world 1 and rank 0 when no launcher is found */
    int local_rank;         /* -1: the launcher does not say (the rendezvous derives it) */
    int local_world;        /* -1: unknown */
    char master_addr[256];  /* rank 0's host for the TCP rendezvous; "" unknown */
    int master_port;        /* the port the launcher names (MASTER_PORT); 0 unknown */
    int rdzv_port;          /* the port ingot's rendezvous listens on (see below) */
    bool agent_store;       /* torchrun's agent already listens on MASTER_PORT */
    char job_id[128];       /* TORCHELASTIC_RUN_ID, SLURM job.step, ...; "" none */
    char note[640];         /* another launcher's variables, set too and saying another
                             * rank or world, which were not used; "" none */
};

/* The port ingot's rendezvous uses when no --dist-port is given: MASTER_PORT,
 * plus one under torchrun (whose agent's TCPStore holds MASTER_PORT itself);
 * 20000 + SLURM_JOB_ID mod 12000 under Slurm without MASTER_PORT; else 29500
 * (torch's default). INGOT_DIST_PORT overrides all of them. */
enum { TR_DIST_DEFAULT_PORT = 29500 };

/* Read the world from envp (NULL-terminated "NAME=value" strings, as in
 * environ). Detection order: RANK+WORLD_SIZE (torchrun when TORCHELASTIC_*
 * or GROUP_RANK is present, else "env"), OMPI_COMM_WORLD_*, PMI_RANK/PMI_SIZE
 * (MPICH, Intel MPI), Slurm srun steps (SLURM_PROCID with
 * SLURM_STEP_NUM_TASKS; a batch script's own SLURM_NTASKS does not count, so
 * a single process in an sbatch script stays single), else one process.
 * When the scheme found first says one process but another launcher's
 * variables, also set, say more (a stray RANK=0 WORLD_SIZE=1 under srun or
 * mpirun), it refuses: each task would train alone. Both saying more than
 * one (torchrun inside an srun step) takes the first.
 * Returns 0 or INGOT_E_USAGE naming the variable that is not a number (blanks
 * included) or out of range (rank >= world, local rank >= local world size,
 * ...), or the two launchers that disagree. */
int tr_dist_env_read(const char *const *envp, struct tr_dist_env *e);

/* Expand a Slurm hostlist ("gpu[01-04,07],login1", "a[1-2]-ib[0-1]") and
 * copy its idx-th host name into out. *count receives the number of hosts
 * (SIZE_MAX when more), counted without expanding them: only the names up to
 * idx are, so the first host of a huge list is cheap. Returns 0, -ERANGE when
 * idx >= count (out untouched) or INGOT_E_USAGE for a malformed list, a name
 * longer than out_len - 1, or idx >= TR_HOSTLIST_MAX_EXPAND. */
enum { TR_HOSTLIST_MAX_EXPAND = 1 << 20 };
int tr_hostlist_nth(const char *list, size_t idx, char *out, size_t out_len, size_t *count);

/* 64-bit FNV-1a of a string: the job key that keeps two jobs sharing a port
 * apart, and a fingerprint helper. */
uint64_t tr_dist_hash(const char *s);

#endif
