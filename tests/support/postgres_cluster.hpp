// A real PostgreSQL primary (and optionally a streaming replica) for tests, started from the
// Debian packages in a temp dir on random loopback ports, and removed afterwards.
//
//   auto pg = PostgresCluster::Start({.replica = true});
//   pg->Psql("CREATE TABLE t (id int)");  pg->WaitForReplay();
//   std::string conninfo = pg->ConnectionString("postgres", pg->SuperuserPassword(), "postgres");
//
// How it works, and why:
// - Binaries come from /usr/lib/postgresql/15/bin, else the newest major under
//   /usr/lib/postgresql (the error names the Debian package `postgresql-15` if there is none).
// - PostgreSQL refuses to run as root, so as root every program (initdb, pg_ctl, pg_basebackup,
//   psql) runs as the `postgres` user (fork + setgroups/setgid/setuid + execve); as any other
//   user it runs directly. Programs get argv vectors, never a shell string built from data, and
//   the superuser password reaches them only through PGPASSWORD in the child's environment or
//   a 0600 file. The children get a PG*-free environment (so a developer's PGHOST etc. cannot
//   redirect them) with LC_ALL=C.
// - initdb runs once per process into a template data dir (`trellis-pg-template-<pid>-*`)
//   that each Start() copies (`cp -a`, about 3x faster than initdb). Hence every cluster of
//   one process has the same random superuser password. The template is removed at exit (or,
//   after a crash, by the next process's first Start()).
// - The directory is `trellis-pg-XXXXXX` under $TMPDIR (or /tmp when the `postgres` user could
//   not reach $TMPDIR), owned by `postgres` when root. Inside: primary/ and replica/ (data
//   dirs), sock/ (unix sockets), primary.log and replica.log (pg_ctl -l).
// - Ports: bind port 0 on 127.0.0.1 to pick a free one, then start; when another process takes
//   it in between, the start fails with "could not bind" and is retried on a new port.
// - Tuned for tests, not durability: fsync, synchronous_commit and full_page_writes off,
//   wal_writer_delay 10ms, shared_buffers 64MB, max_connections 200, dynamic shared memory in
//   the data dir (mmap: nothing left in /dev/shm by a SIGKILL); wal_level=replica with 5
//   WAL senders, wal_keep_size 256MB, hot_standby_feedback, and a replication line in
//   pg_hba.conf so that pg_basebackup -R can make the replica.
//   With synchronous_commit off a commit returns before its WAL is written: KillPrimary or
//   StopPrimary right after it may lose it, and a replica may not have it yet. Tests that need
//   a commit to survive a crash `SET synchronous_commit = on` in that session (cheap: fsync is
//   off) or call WaitForReplay() first.
// - Authentication is scram-sha-256 over TCP on 127.0.0.1 for every user and for replication;
//   the unix socket (inside the private dir) trusts, which only the harness itself reaches.
// - Start() returns once each server accepts connections and, with a replica, the primary's
//   pg_stat_replication shows it streaming. Every failure throws std::runtime_error with the
//   tail of the server log; servers already started are stopped first (no orphans).
// - The destructor stops each server (`pg_ctl stop -m immediate`), SIGKILLs any postmaster
//   left in a pid file, and removes the dir. TRELLIS_KEEP_PG=1 keeps the dir (servers are still
//   stopped) and prints its path on stderr.
// - The postmasters run in sessions of their own, so they would outlive a test process that
//   dies without its destructors (crash, ASan abort, a ctest timeout's SIGKILL). Each cluster
//   therefore has a watchdog (/bin/sh in its own session) that notices its owner's death (EOF
//   on a socket pair) and then stops the servers and removes the dir.
// - The test process makes itself the child subreaper (prctl), so the daemonised postmasters
//   are reaped by it rather than left as zombies of a pid 1 that may never reap them.
// - TRELLIS_PG_TRACE=1 prints how long each step of Start() took.
// - Not thread-safe: one test thread drives a cluster.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trellis::tests::support {

struct PostgresClusterOptions {
  bool replica = false;
};

class PostgresCluster {
 public:
  // initdb + start a primary (and a streaming replica made with pg_basebackup -R) in a temp
  // dir, on random free loopback ports, fsync off; throws std::runtime_error with the server
  // log's tail on failure. The destructor stops them (immediate) and removes the dir.
  static std::unique_ptr<PostgresCluster> Start(PostgresClusterOptions options = {});

  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  [[nodiscard]] int PrimaryPort() const { return primary_.port; }
  // 0 without a replica.
  [[nodiscard]] int ReplicaPort() const { return replica_.port; }
  [[nodiscard]] bool HasReplica() const { return !replica_.data_dir.empty(); }

  static constexpr const char* kSuperuser = "postgres";
  [[nodiscard]] const std::string& SuperuserPassword() const { return password_; }

  // libpq keyword/value string: host=127.0.0.1 port=.. user=.. password=.. dbname=..
  // (values quoted for libpq where needed).
  [[nodiscard]] std::string ConnectionString(const std::string& user, const std::string& password,
                                             const std::string& dbname, bool replica = false) const;

  // Both servers in one libpq string, primary first, for failover tests (libpq tries the hosts
  // in turn and keeps the first that matches target_session_attrs):
  // host=127.0.0.1,127.0.0.1 port=<primary>,<replica> user=.. password=.. dbname=..
  // target_session_attrs=.. Without a replica, just the primary. Psql() accepts it as dbname.
  [[nodiscard]] std::string MultiHostConnectionString(
      const std::string& user, const std::string& password, const std::string& dbname,
      const std::string& target_session_attrs = "read-write") const;

  // psql -X -q -At -v ON_ERROR_STOP=1 as `user` (default the superuser) on the primary or the
  // replica, over TCP; `sql` goes in on stdin, so several statements run one by one (CREATE
  // DATABASE works). Returns stdout without its trailing newlines ("1", or "a|b\nc|d" for
  // several rows); throws std::runtime_error with psql's stderr on failure.
  std::string Psql(const std::string& sql, const std::string& dbname = "postgres",
                   bool replica = false, const std::string& user = "",
                   const std::string& password = "") const;

  // Runs a psql script file (psql -f, as the superuser, on the primary) with -v name=value
  // variables (e.g. bootstrap.sql). The file must be readable by the `postgres` user. Returns
  // stdout as Psql does.
  std::string PsqlFile(const std::filesystem::path& file, const std::string& dbname,
                       const std::vector<std::pair<std::string, std::string>>& vars = {}) const;

  // A fresh empty database (CREATE DATABASE … TEMPLATE template0 OWNER owner); its name.
  std::string CreateDatabase(const std::string& owner = "postgres");

  void KillPrimary();     // SIGKILL the primary's postmaster (a crash); returns once it is gone
  void StopPrimary();     // pg_ctl stop -m immediate
  void StartPrimary();    // start it again on the same port
  void PromoteReplica();  // pg_ctl promote; returns once it accepts writes
  void PauseReplay();     // pg_wal_replay_pause() on the replica; returns once paused
  void ResumeReplay();    // pg_wal_replay_resume() on the replica
  // Until the replica has replayed the primary's current LSN; throws after 10 s.
  void WaitForReplay();

  [[nodiscard]] const std::filesystem::path& Dir() const { return dir_; }
  [[nodiscard]] std::filesystem::path PrimaryLog() const { return dir_ / "primary.log"; }
  [[nodiscard]] std::filesystem::path ReplicaLog() const { return dir_ / "replica.log"; }

 private:
  struct Server {
    std::string name;  // "primary" / "replica": the log's and the data dir's name
    std::filesystem::path data_dir;
    int port = 0;
    bool running = false;
  };

  PostgresCluster() = default;
  void InitPrimary();
  void MakeReplica();
  void StartServer(Server& server, bool pick_new_port_on_clash);
  void StopServer(Server& server) noexcept;
  void WaitUntilStreaming();
  // Polls `sql` (psql on the primary or the replica) until it prints `want`; throws after
  // `timeout` with the last answer and the log's tail.
  void WaitForSql(bool replica, const std::string& sql, const std::string& want,
                  const std::string& what, std::chrono::milliseconds timeout) const;
  [[noreturn]] void Fail(const std::string& what, const Server* server) const;

  std::filesystem::path bin_dir_;
  std::filesystem::path dir_;
  std::string password_;
  Server primary_;
  Server replica_;
  int database_counter_ = 0;
  // The watchdog that cleans up if this process dies without the destructor (see the .cpp).
  int watchdog_pid_ = 0;
  int watchdog_fd_ = -1;
};

}  // namespace trellis::tests::support
