/*
 * mpi_nap: a PMPI wrapper (the MPI standard's profiling interface) that makes blocking MPI
 * calls wait by sleeping instead of spinning. Open MPI has no passive wait: a rank blocked
 * in MPI_Recv or MPI_Barrier polls its progress engine at 100% of a core, and with
 * mpi_yield_when_idle it still burns that core in sched_yield (system time). On a CPU
 * machine with fewer cores than ranks, RELION's leader rank, which hands out work and
 * otherwise waits, takes a third of the machine from the two ranks doing the expectation.
 *
 * Each wrapped call starts the non-blocking form (MPI-3) and tests it: a short spin for
 * messages that are about to arrive, then nanosleep from 20 us doubling to 1 ms. Semantics
 * are the blocking call's (MPI_Send = MPI_Isend + wait, and so on). Loaded with
 * `mpirun -x LD_PRELOAD=<this .so>`; built by scripts/setup.sh (embedded profile only).
 *
 * MPI_NAP_MAX_US (environment) caps the sleep; 0 turns the wrapper into a plain spin.
 */
#include <mpi.h>
#include <stdlib.h>
#include <time.h>

static long max_ns = -1;

static void nap(long *ns) {
  struct timespec t = {0, *ns};
  nanosleep(&t, NULL);
  *ns = *ns * 2 > max_ns ? max_ns : *ns * 2;
}

static long first_nap_ns(void) {
  if (max_ns < 0) {
    const char *cap = getenv("MPI_NAP_MAX_US");
    max_ns = cap ? atol(cap) * 1000L : 1000000L;
  }
  return max_ns < 20000L ? max_ns : 20000L;
}

static int wait_request(MPI_Request *request, MPI_Status *status) {
  long ns = first_nap_ns();
  for (int spins = 0;; spins++) {
    int done = 0;
    int rc = PMPI_Test(request, &done, status);
    if (rc != MPI_SUCCESS || done) return rc;
    if (spins >= 200 && max_ns > 0) nap(&ns);
  }
}

int MPI_Wait(MPI_Request *request, MPI_Status *status) {
  return wait_request(request, status);
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Status *status) {
  MPI_Request r;
  int rc = PMPI_Irecv(buf, count, type, source, tag, comm, &r);
  return rc != MPI_SUCCESS ? rc : wait_request(&r, status);
}

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  MPI_Request r;
  int rc = PMPI_Isend(buf, count, type, dest, tag, comm, &r);
  return rc != MPI_SUCCESS ? rc : wait_request(&r, MPI_STATUS_IGNORE);
}

int MPI_Ssend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  MPI_Request r;
  int rc = PMPI_Issend(buf, count, type, dest, tag, comm, &r);
  return rc != MPI_SUCCESS ? rc : wait_request(&r, MPI_STATUS_IGNORE);
}

int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status *status) {
  long ns = first_nap_ns();
  for (int spins = 0;; spins++) {
    int flag = 0;
    int rc = PMPI_Iprobe(source, tag, comm, &flag, status);
    if (rc != MPI_SUCCESS || flag) return rc;
    if (spins >= 200 && max_ns != 0) nap(&ns);
  }
}

int MPI_Barrier(MPI_Comm comm) {
  MPI_Request r;
  int rc = PMPI_Ibarrier(comm, &r);
  return rc != MPI_SUCCESS ? rc : wait_request(&r, MPI_STATUS_IGNORE);
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
  MPI_Request r;
  int rc = PMPI_Ibcast(buf, count, type, root, comm, &r);
  return rc != MPI_SUCCESS ? rc : wait_request(&r, MPI_STATUS_IGNORE);
}

int MPI_Allreduce(const void *in, void *out, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  MPI_Request r;
  int rc = PMPI_Iallreduce(in, out, count, type, op, comm, &r);
  return rc != MPI_SUCCESS ? rc : wait_request(&r, MPI_STATUS_IGNORE);
}

int MPI_Reduce(const void *in, void *out, int count, MPI_Datatype type, MPI_Op op, int root, MPI_Comm comm) {
  MPI_Request r;
  int rc = PMPI_Ireduce(in, out, count, type, op, root, comm, &r);
  return rc != MPI_SUCCESS ? rc : wait_request(&r, MPI_STATUS_IGNORE);
}
