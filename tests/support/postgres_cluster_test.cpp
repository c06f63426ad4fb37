// Tests of the PostgreSQL harness against real servers (label `postgres`).
#include "tests/support/postgres_cluster.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace trellis::tests::support {
namespace {

using Clock = std::chrono::steady_clock;

// A server could listen on `port` again (SO_REUSEADDR, as PostgreSQL itself binds).
bool PortIsFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(fd, 1) == 0;
  close(fd);
  return ok;
}

pid_t PidFromFile(const std::filesystem::path& pid_file) {
  std::ifstream f(pid_file);
  long pid = 0;
  f >> pid;
  return static_cast<pid_t>(pid);
}

// Line 7 of postmaster.pid: "<key> <shmid>" of the postmaster's SysV segment.
int SysvSegmentFromPidFile(const std::filesystem::path& pid_file) {
  std::ifstream f(pid_file);
  std::string line;
  for (int i = 0; i < 7 && std::getline(f, line); ++i) {
  }
  std::istringstream fields(line);
  unsigned long key = 0;
  int shmid = -1;
  fields >> key >> shmid;
  return shmid;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(f, stat);
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

std::unique_ptr<PostgresCluster> StartTimed(bool replica) {
  const auto t0 = Clock::now();
  auto cluster = PostgresCluster::Start({.replica = replica});
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  std::cout << "PostgresCluster::Start(replica=" << replica << ") took " << ms << " ms\n";
  return cluster;
}

TEST(PostgresClusterTest, StartsAPrimaryAndAStreamingReplicaOnLoopbackPorts) {
  auto pg = StartTimed(true);
  ASSERT_TRUE(pg->HasReplica());
  EXPECT_GT(pg->PrimaryPort(), 0);
  EXPECT_GT(pg->ReplicaPort(), 0);
  EXPECT_NE(pg->PrimaryPort(), pg->ReplicaPort());
  EXPECT_TRUE(std::filesystem::is_directory(pg->Dir()));
  EXPECT_GE(pg->SuperuserPassword().size(), 16u);

  EXPECT_EQ(pg->Psql("SELECT 1"), "1");
  EXPECT_EQ(pg->Psql("SELECT pg_is_in_recovery()"), "f");
  EXPECT_EQ(pg->Psql("SELECT pg_is_in_recovery()", "postgres", /*replica=*/true), "t");
  EXPECT_EQ(pg->Psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"), "1");
  EXPECT_EQ(pg->Psql("SHOW fsync"), "off");
  EXPECT_EQ(pg->Psql("SHOW wal_level"), "replica");
  EXPECT_EQ(pg->Psql("SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(pg->Psql("SHOW port"), std::to_string(pg->PrimaryPort()));
  EXPECT_EQ(pg->Psql("SHOW port", "postgres", true), std::to_string(pg->ReplicaPort()));
}

TEST(PostgresClusterTest, StartsAPrimaryAloneWithoutAReplica) {
  auto pg = StartTimed(false);
  EXPECT_FALSE(pg->HasReplica());
  EXPECT_EQ(pg->ReplicaPort(), 0);
  EXPECT_EQ(pg->Psql("SELECT 40 + 2"), "42");
  EXPECT_THROW(pg->WaitForReplay(), std::runtime_error);
}

TEST(PostgresClusterTest, ATableWrittenOnThePrimaryIsReadOnTheReplicaAfterWaitForReplay) {
  auto pg = PostgresCluster::Start({.replica = true});
  pg->Psql(
      "CREATE TABLE notes (id int PRIMARY KEY, body text);"
      "INSERT INTO notes VALUES (1, 'one'), (2, 'two');");
  pg->WaitForReplay();
  EXPECT_EQ(pg->Psql("SELECT string_agg(body, ',' ORDER BY id) FROM notes", "postgres", true),
            "one,two");
  // The replica is read-only.
  EXPECT_THROW(pg->Psql("INSERT INTO notes VALUES (3, 'three')", "postgres", true),
               std::runtime_error);
}

TEST(PostgresClusterTest, PauseReplayHoldsWritesBackAndResumeReplayBringsThem) {
  auto pg = PostgresCluster::Start({.replica = true});
  pg->Psql("CREATE TABLE t (id int)");
  pg->WaitForReplay();

  pg->PauseReplay();
  pg->Psql("SET synchronous_commit = on; INSERT INTO t VALUES (1)");
  const std::string lsn = pg->Psql("SELECT pg_current_wal_lsn()");
  // The replica has received the insert's WAL but does not apply it.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (pg->Psql("SELECT pg_last_wal_receive_lsn() >= '" + lsn + "'::pg_lsn", "postgres", true) !=
         "t") {
    ASSERT_LT(Clock::now(), deadline) << "the replica never received the WAL";
  }
  EXPECT_EQ(pg->Psql("SELECT count(*) FROM t", "postgres", true), "0");
  EXPECT_EQ(pg->Psql("SELECT count(*) FROM t"), "1");

  pg->ResumeReplay();
  pg->WaitForReplay();
  EXPECT_EQ(pg->Psql("SELECT count(*) FROM t", "postgres", true), "1");
}

TEST(PostgresClusterTest, CreateDatabaseGivesDistinctEmptyDatabases) {
  auto pg = PostgresCluster::Start();
  pg->Psql("CREATE ROLE app_owner LOGIN PASSWORD 'owner-secret'");
  const auto t0 = Clock::now();
  const std::string a = pg->CreateDatabase();
  std::cout << "CreateDatabase took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
            << " ms\n";
  const std::string b = pg->CreateDatabase("app_owner");
  EXPECT_NE(a, b);
  pg->Psql("CREATE TABLE only_in_a (id int)", a);
  const std::string tables =
      "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
      "'information_schema')";
  EXPECT_EQ(pg->Psql(tables, a), "1");
  EXPECT_EQ(pg->Psql(tables, b), "0");
  EXPECT_EQ(pg->Psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '" + b + "'"),
            "app_owner");
  // The owner can log in to its database with its own password.
  EXPECT_EQ(pg->Psql("SELECT current_user || '@' || current_database()", b, false, "app_owner",
                     "owner-secret"),
            "app_owner@" + b);
}

TEST(PostgresClusterTest, AWrongPasswordIsRefused) {
  auto pg = PostgresCluster::Start();
  pg->Psql("CREATE ROLE someone LOGIN PASSWORD 'right'");
  EXPECT_EQ(pg->Psql("SELECT current_user", "postgres", false, "someone", "right"), "someone");
  try {
    pg->Psql("SELECT 1", "postgres", false, "someone", "wrong");
    FAIL() << "a wrong password was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(pg->Psql("SELECT 1", "postgres", false, PostgresCluster::kSuperuser, "wrong"),
               std::runtime_error);
  // scram-sha-256 is what the server asks for over TCP.
  EXPECT_EQ(pg->Psql("SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND "
                     "auth_method = 'scram-sha-256' AND address = '127.0.0.1'"),
            "2");
}

TEST(PostgresClusterTest, ConnectionStringNamesTheServerAndQuotesWhereNeeded) {
  auto pg = PostgresCluster::Start({.replica = true});
  EXPECT_EQ(
      pg->ConnectionString("u", "p", "d"),
      "host=127.0.0.1 port=" + std::to_string(pg->PrimaryPort()) + " user=u password=p dbname=d");
  EXPECT_EQ(pg->ConnectionString("u", "it's a\\b", "d", /*replica=*/true),
            "host=127.0.0.1 port=" + std::to_string(pg->ReplicaPort()) +
                " user=u password='it\\'s a\\\\b' dbname=d");
}

TEST(PostgresClusterTest, PsqlFileRunsAScriptWithVariables) {
  auto pg = PostgresCluster::Start();
  const auto script = pg->Dir() / "script.sql";
  {
    std::ofstream f(script);
    f << "CREATE TABLE :\"table\" (v text);\n"
         "INSERT INTO :\"table\" VALUES (:'value');\n"
         "SELECT v FROM :\"table\";\n";
  }
  chmod(script.c_str(), 0644);
  EXPECT_EQ(pg->PsqlFile(script, "postgres", {{"table", "from_file"}, {"value", "x'y"}}), "x'y");
  // ON_ERROR_STOP: a failing statement fails the call.
  EXPECT_THROW(pg->Psql("SELECT * FROM no_such_table; SELECT 1"), std::runtime_error);
}

TEST(PostgresClusterTest, KillPrimaryThenPromoteReplicaMakesTheReplicaWritable) {
  auto pg = PostgresCluster::Start({.replica = true});
  pg->Psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
  pg->WaitForReplay();
  const pid_t primary_pid = PidFromFile(pg->Dir() / "primary" / "postmaster.pid");
  ASSERT_TRUE(ProcessAlive(primary_pid));

  pg->KillPrimary();
  EXPECT_FALSE(ProcessAlive(primary_pid));
  EXPECT_THROW(pg->Psql("SELECT 1"), std::runtime_error);
  EXPECT_EQ(pg->Psql("SELECT count(*) FROM t", "postgres", true), "1");  // reads still work

  pg->PromoteReplica();
  EXPECT_EQ(pg->Psql("SELECT pg_is_in_recovery()", "postgres", true), "f");
  pg->Psql("INSERT INTO t VALUES (2)", "postgres", true);
  EXPECT_EQ(pg->Psql("SELECT count(*) FROM t", "postgres", true), "2");
}

TEST(PostgresClusterTest, AMultiHostConnectionStringFollowsTheWritableServerAcrossAFailover) {
  auto pg = PostgresCluster::Start({.replica = true});
  const std::string any_writable =
      pg->MultiHostConnectionString("postgres", pg->SuperuserPassword(), "postgres");
  EXPECT_EQ(any_writable, "host=127.0.0.1,127.0.0.1 port=" + std::to_string(pg->PrimaryPort()) +
                              "," + std::to_string(pg->ReplicaPort()) +
                              " user=postgres password=" + pg->SuperuserPassword() +
                              " dbname=postgres target_session_attrs=read-write");
  const std::string standby =
      pg->MultiHostConnectionString("postgres", pg->SuperuserPassword(), "postgres", "standby");
  EXPECT_EQ(pg->Psql("SELECT inet_server_port()", any_writable), std::to_string(pg->PrimaryPort()));
  EXPECT_EQ(pg->Psql("SELECT inet_server_port()", standby), std::to_string(pg->ReplicaPort()));

  pg->KillPrimary();
  pg->PromoteReplica();
  EXPECT_EQ(pg->Psql("SELECT inet_server_port()", any_writable), std::to_string(pg->ReplicaPort()));
}

TEST(PostgresClusterTest, ThePrimaryRestartsOnItsPortAfterAStopOrACrash) {
  auto pg = PostgresCluster::Start();
  const int port = pg->PrimaryPort();
  pg->Psql("SET synchronous_commit = on; CREATE TABLE kept (id int); INSERT INTO kept VALUES (7)");

  pg->StopPrimary();
  EXPECT_THROW(pg->Psql("SELECT 1"), std::runtime_error);
  pg->StartPrimary();
  EXPECT_EQ(pg->PrimaryPort(), port);
  EXPECT_EQ(pg->Psql("SELECT id FROM kept"), "7");

  pg->KillPrimary();  // crash recovery on the next start
  EXPECT_THROW(pg->Psql("SELECT 1"), std::runtime_error);
  pg->StartPrimary();
  EXPECT_EQ(pg->Psql("SELECT id FROM kept"), "7");
}

TEST(PostgresClusterTest, AStartThatCannotBindItsPortThrowsWithTheServerLogsTail) {
  auto pg = PostgresCluster::Start();
  pg->StopPrimary();
  // Somebody else takes the port while the primary is down.
  const int squatter = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(squatter, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(pg->PrimaryPort()));
  const int one = 1;
  setsockopt(squatter, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ASSERT_EQ(bind(squatter, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(squatter, 1), 0);
  try {
    pg->StartPrimary();
    ADD_FAILURE() << "started on a taken port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("could not bind"), std::string::npos) << e.what();
  }
  close(squatter);
  pg->StartPrimary();
  EXPECT_EQ(pg->Psql("SELECT 1"), "1");
}

TEST(PostgresClusterTest, TheDestructorStopsTheServersFreesThePortsAndRemovesTheDir) {
  auto pg = PostgresCluster::Start({.replica = true});
  const int primary_port = pg->PrimaryPort();
  const int replica_port = pg->ReplicaPort();
  const std::filesystem::path dir = pg->Dir();
  const pid_t primary_pid = PidFromFile(dir / "primary" / "postmaster.pid");
  const pid_t replica_pid = PidFromFile(dir / "replica" / "postmaster.pid");
  ASSERT_TRUE(ProcessAlive(primary_pid));
  ASSERT_TRUE(ProcessAlive(replica_pid));
  EXPECT_FALSE(PortIsFree(primary_port));
  EXPECT_FALSE(PortIsFree(replica_port));

  pg.reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(ProcessAlive(primary_pid));
  EXPECT_FALSE(ProcessAlive(replica_pid));
  EXPECT_TRUE(PortIsFree(primary_port));
  EXPECT_TRUE(PortIsFree(replica_port));
}

TEST(PostgresClusterTest, TheDestructorCleansUpAfterAKilledPrimaryToo) {
  auto pg = PostgresCluster::Start({.replica = true});
  const std::filesystem::path dir = pg->Dir();
  const int replica_port = pg->ReplicaPort();
  const int shmid = SysvSegmentFromPidFile(dir / "primary" / "postmaster.pid");
  ASSERT_GE(shmid, 0);
  shmid_ds ds{};
  ASSERT_EQ(shmctl(shmid, IPC_STAT, &ds), 0);

  pg->KillPrimary();
  pg.reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(PortIsFree(replica_port));
  // The killed postmaster's SysV segment is removed too.
  EXPECT_NE(shmctl(shmid, IPC_STAT, &ds), 0);
}

TEST(PostgresClusterTest, TheWatchdogCleansUpWhenTheOwningProcessDiesWithoutTheDestructor) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The owning process: start a cluster, report it, and die without running destructors.
    close(fds[0]);
    try {
      auto pg = PostgresCluster::Start({.replica = true});
      const std::string report = pg->Dir().string() + "\n" + std::to_string(pg->PrimaryPort()) +
                                 "\n" + std::to_string(pg->ReplicaPort()) + "\n";
      (void)!write(fds[1], report.data(), report.size());
      (void)pg.release();  // leaked on purpose: the crash
    } catch (...) {
    }
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) {
    report.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  waitpid(child, nullptr, 0);
  std::istringstream lines(report);
  std::string dir;
  int primary_port = 0;
  int replica_port = 0;
  ASSERT_TRUE(lines >> dir >> primary_port >> replica_port)
      << "the child did not start: " << report;

  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (std::filesystem::exists(dir) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(PortIsFree(primary_port));
  EXPECT_TRUE(PortIsFree(replica_port));
}

}  // namespace
}  // namespace trellis::tests::support
