#include "tests/support/postgres_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>

#include "tests/support/launcher_util.hpp"

extern char** environ;

namespace trellis::tests::support {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kPreferredBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kPostgresRoot = "/usr/lib/postgresql";
constexpr const char* kOsUser = "postgres";
constexpr const char* kKeepEnv = "TRELLIS_KEEP_PG";
constexpr int kStartAttempts = 5;      // new ports tried when another process takes one
constexpr int kPgCtlWaitSeconds = 60;  // pg_ctl -t
constexpr milliseconds kProcessTimeout{120'000};
constexpr milliseconds kPollInterval{10};
constexpr milliseconds kStreamingTimeout{30'000};
constexpr milliseconds kReplayTimeout{10'000};
constexpr milliseconds kPromoteTimeout{30'000};
constexpr milliseconds kProcessGoneTimeout{10'000};

// ---- who runs the PostgreSQL programs ----------------------------------------------------

struct RunAs {
  bool switch_user = false;  // true when we are root: drop to `postgres` in the child
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

const RunAs& PostgresUser() {
  static const RunAs run_as = [] {
    RunAs r;
    if (geteuid() != 0) return r;
    passwd* pw = getpwnam(kOsUser);
    if (pw == nullptr) {
      throw std::runtime_error(
          "running as root, but there is no `postgres` user to run PostgreSQL as (install the "
          "Debian package postgresql-15, which creates it)");
    }
    r.switch_user = true;
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
    int count = 32;
    r.groups.resize(static_cast<std::size_t>(count));
    while (getgrouplist(kOsUser, r.gid, r.groups.data(), &count) == -1) {
      r.groups.resize(static_cast<std::size_t>(count));
    }
    r.groups.resize(static_cast<std::size_t>(count));
    return r;
  }();
  return run_as;
}

// ---- a small subprocess runner: argv vector, env additions, stdin, captured output --------

struct ProcessOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to a PG*-free environment
  std::string stdin_data;
  std::filesystem::path cwd;
  milliseconds timeout = kProcessTimeout;
};

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
  [[nodiscard]] bool Ok() const { return exit_code == 0 && !timed_out; }
};

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

std::string Describe(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// Runs argv[0] (an absolute path) as the `postgres` user when we are root. Everything the
// child needs is prepared before fork: between fork and execve it only calls
// async-signal-safe functions.
ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  const RunAs& run_as = PostgresUser();

  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view v(*e);
    // libpq's PG* variables of the caller must not redirect our programs; C messages keep the
    // "could not bind" check stable.
    if (v.starts_with("PG") || v.starts_with("LC_") || v.starts_with("LANG=")) continue;
    env_storage.emplace_back(v);
  }
  env_storage.emplace_back("LC_ALL=C");
  env_storage.emplace_back("LANG=C");
  for (const auto& [k, v] : options.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = argv;
  std::vector<char*> args;
  for (auto& a : argv_storage) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string cwd = options.cwd.empty() ? std::string("/") : options.cwd.string();

  int in_fds[2];  // a socketpair, so that writing to an early-exiting child cannot SIGPIPE us
  int out_fds[2];
  int err_fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  if (pipe2(out_fds, O_CLOEXEC) != 0 || pipe2(err_fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }

  const pid_t pid = fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    setpgid(0, 0);
    dup2(in_fds[1], STDIN_FILENO);
    dup2(out_fds[1], STDOUT_FILENO);
    dup2(err_fds[1], STDERR_FILENO);
    auto die = [](const char* what) {
      const char* msg = strerror(errno);
      (void)!write(STDERR_FILENO, what, strlen(what));
      (void)!write(STDERR_FILENO, ": ", 2);
      (void)!write(STDERR_FILENO, msg, strlen(msg));
      (void)!write(STDERR_FILENO, "\n", 1);
      _exit(127);
    };
    if (run_as.switch_user) {
      if (setgroups(run_as.groups.size(), run_as.groups.data()) != 0) die("setgroups");
      if (setgid(run_as.gid) != 0) die("setgid");
      if (setuid(run_as.uid) != 0) die("setuid");
    }
    if (chdir(cwd.c_str()) != 0) die("chdir");
    execve(args[0], args.data(), envp.data());
    die(args[0]);
  }

  close(in_fds[1]);
  close(out_fds[1]);
  close(err_fds[1]);
  int in_fd = in_fds[0];
  int out_fd = out_fds[0];
  int err_fd = err_fds[0];
  if (options.stdin_data.empty()) CloseFd(in_fd);
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  ProcessResult result;
  std::size_t written = 0;
  const auto deadline = Clock::now() + options.timeout;
  bool exited = false;
  int status = 0;
  Clock::time_point exited_at;
  char buf[8192];
  while (true) {
    if (!exited) {
      const pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        exited_at = Clock::now();
      }
    }
    // A daemon the child started may still hold the pipes (pg_ctl redirects the postmaster's,
    // but be safe): once the child is gone, give the pipes a moment and stop reading.
    if (exited && ((out_fd < 0 && err_fd < 0) || Clock::now() - exited_at > milliseconds(200))) {
      break;
    }
    if (Clock::now() > deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      if (!exited) waitpid(pid, &status, 0);
      exited = true;
      break;
    }
    std::vector<pollfd> fds;
    if (in_fd >= 0) fds.push_back({in_fd, POLLOUT, 0});
    if (out_fd >= 0) fds.push_back({out_fd, POLLIN, 0});
    if (err_fd >= 0) fds.push_back({err_fd, POLLIN, 0});
    if (fds.empty()) {
      std::this_thread::sleep_for(milliseconds(2));
      continue;
    }
    const int n = poll(fds.data(), fds.size(), 20);
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in_fd) {
        const ssize_t k = send(in_fd, options.stdin_data.data() + written,
                               options.stdin_data.size() - written, MSG_NOSIGNAL);
        if (k > 0) written += static_cast<std::size_t>(k);
        if (k < 0 && errno != EAGAIN && errno != EINTR) written = options.stdin_data.size();
        if (written >= options.stdin_data.size()) CloseFd(in_fd);
        continue;
      }
      int& fd = p.fd == out_fd ? out_fd : err_fd;
      std::string& sink = p.fd == out_fd ? result.out : result.err;
      const ssize_t k = read(fd, buf, sizeof buf);
      if (k > 0) {
        sink.append(buf, static_cast<std::size_t>(k));
      } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(fd);
      }
    }
  }
  CloseFd(in_fd);
  CloseFd(out_fd);
  CloseFd(err_fd);
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

ProcessResult RunChecked(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult r = RunProcess(argv, options);
  if (!r.Ok()) {
    std::string msg =
        Describe(argv) +
        (r.timed_out ? " timed out" : " failed (exit " + std::to_string(r.exit_code) + ")");
    throw std::runtime_error(msg + ":\n" + r.err + r.out);
  }
  return r;
}

// ---- small helpers ------------------------------------------------------------------------

std::filesystem::path FindBinDir() {
  if (std::filesystem::exists(std::filesystem::path(kPreferredBinDir) / "postgres")) {
    return kPreferredBinDir;
  }
  int best = -1;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kPostgresRoot, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (!std::filesystem::exists(entry.path() / "bin" / "postgres")) continue;
    best = std::max(best, std::stoi(name));
  }
  if (best < 0) {
    throw std::runtime_error(
        "no PostgreSQL server binaries under /usr/lib/postgresql: install the Debian package "
        "postgresql-15 (apt-get install postgresql-15)");
  }
  return std::filesystem::path(kPostgresRoot) / std::to_string(best) / "bin";
}

std::string RandomHex(std::size_t chars) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::random_device rd;
  std::string s;
  s.reserve(chars);
  for (std::size_t i = 0; i < chars; ++i) s.push_back(kDigits[rd() % 16]);
  return s;
}

// Other users (the `postgres` user) can reach `dir` when every ancestor is searchable by them.
bool ReachableByOthers(const std::filesystem::path& dir) {
  std::filesystem::path p = std::filesystem::absolute(dir);
  for (; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) != 0) return false;
    if ((st.st_mode & S_IXOTH) == 0 && st.st_uid != PostgresUser().uid) return false;
    if (p == p.root_path()) break;
  }
  return true;
}

void GiveToPostgres(const std::filesystem::path& path) {
  const RunAs& run_as = PostgresUser();
  if (!run_as.switch_user) return;
  if (chown(path.c_str(), run_as.uid, run_as.gid) != 0) {
    throw std::system_error(errno, std::generic_category(), "chown " + path.string());
  }
}

std::filesystem::path BaseDir() {
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') {
    if (!PostgresUser().switch_user || ReachableByOthers(t)) return t;
  }
  return "/tmp";
}

std::filesystem::path MakeClusterDir(const std::string& prefix) {
  std::string pattern = (BaseDir() / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  std::filesystem::path dir = pattern;
  GiveToPostgres(dir);
  return dir;
}

void WriteFile(const std::filesystem::path& path, const std::string& content,
               std::ios::openmode mode = std::ios::trunc) {
  std::ofstream f(path, std::ios::binary | std::ios::out | mode);
  f << content;
  f.close();
  if (!f) throw std::runtime_error("cannot write " + path.string());
  chmod(path.c_str(), S_IRUSR | S_IWUSR);
  GiveToPostgres(path);
}

// 'value' for a postgresql.conf line.
std::string ConfQuote(const std::string& v) {
  std::string q = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') q += c;
    q += c;
  }
  return q + "'";
}

// A libpq keyword/value value: bare when plain, else single-quoted with \ escapes.
std::string ConninfoValue(const std::string& v) {
  const bool plain = !v.empty() && std::none_of(v.begin(), v.end(), [](char c) {
    return c == ' ' || c == '\'' || c == '\\' || c == '=' ||
           std::isspace(static_cast<unsigned char>(c));
  });
  if (plain) return v;
  std::string q = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') q += '\\';
    q += c;
  }
  return q + "'";
}

std::string QuoteIdent(const std::string& name) {
  std::string q = "\"";
  for (char c : name) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// The postmaster's pid from the data dir's postmaster.pid, or 0.
pid_t PostmasterPid(const std::filesystem::path& data_dir) {
  std::ifstream f(data_dir / "postmaster.pid");
  long pid = 0;
  if (!(f >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

char ProcessState(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return '\0';
  const auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= stat.size()) return '\0';
  return stat[close_paren + 2];
}

// Gone means reaped or a zombie: we are the postmasters' subreaper (see Start), but a zombie
// of somebody else's also counts.
bool ProcessGone(pid_t pid) {
  waitpid(pid, nullptr, WNOHANG);
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  const char state = ProcessState(pid);
  return state == '\0' || state == 'Z' || state == 'X';
}

bool IsPostgresProcess(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(f, comm);
  return comm.starts_with("postgres") || comm.starts_with("postmaster");
}

// Processes whose parent is `parent` (the postmaster's backends and helpers).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream f(entry.path() / "stat");
    std::string stat;
    if (!std::getline(f, stat)) continue;
    const auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(close_paren + 2));
    char state = 0;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

// After a postmaster died by SIGKILL: its small SysV segment (the key and id are on line 7 of
// postmaster.pid) outlives it, and so would the pid file. Remove both when the postmaster is
// gone and nothing is attached. (Its dynamic shared memory lives in the data dir:
// dynamic_shared_memory_type = mmap, so nothing is left in /dev/shm.)
void RemoveStaleLockFile(const std::filesystem::path& data_dir) {
  const auto pid_file = data_dir / "postmaster.pid";
  std::ifstream f(pid_file);
  if (!f) return;
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  f.close();
  if (lines.empty()) return;
  const pid_t pid = static_cast<pid_t>(std::atol(lines[0].c_str()));
  if (pid <= 0 || !ProcessGone(pid)) return;
  if (lines.size() >= 7) {
    std::istringstream shm(lines[6]);
    unsigned long key = 0;
    int shmid = -1;
    shmid_ds ds{};
    if (shm >> key >> shmid && shmid >= 0 && shmctl(shmid, IPC_STAT, &ds) == 0 &&
        ds.shm_perm.__key == static_cast<key_t>(key) && ds.shm_nattch == 0) {
      shmctl(shmid, IPC_RMID, nullptr);
    }
  }
  std::error_code ec;
  std::filesystem::remove(pid_file, ec);
}

bool WaitGone(const std::vector<pid_t>& pids, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (std::all_of(pids.begin(), pids.end(), ProcessGone)) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// TRELLIS_PG_TRACE=1 prints how long each step of Start() took, on stderr.
class PhaseTimer {
 public:
  void Mark(const char* phase) {
    if (!enabled_) return;
    const auto now = Clock::now();
    std::cerr << "PostgresCluster: " << phase << " "
              << std::chrono::duration_cast<milliseconds>(now - last_).count() << " ms\n";
    last_ = now;
  }

 private:
  bool enabled_ = std::getenv("TRELLIS_PG_TRACE") != nullptr;
  Clock::time_point last_ = Clock::now();
};

bool KeepDir() {
  const char* v = std::getenv(kKeepEnv);
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

// When the test process dies without running the destructor (a crash, an ASan abort, a ctest
// timeout's SIGKILL) the postmasters would live on: they run in sessions of their own. So each
// cluster has a watchdog, /bin/sh in its own session as the servers' user, reading one end of a
// socket pair: "done" from the destructor ends it; EOF (its owner is gone) makes it stop the
// servers and remove the dir. The script is a constant; the paths reach it as arguments.
constexpr const char* kWatchdogScript = R"(IFS= read -r line
[ "$line" = done ] && exit 0
for d in "$2/replica" "$2/primary"; do
  [ -f "$d/postmaster.pid" ] && "$1/pg_ctl" stop -D "$d" -m immediate -w -t 30
done
[ "$3" = keep ] || rm -rf -- "$2"
)";

// Returns the watchdog's pid and our end of the socket pair.
std::pair<pid_t, int> StartWatchdog(const std::filesystem::path& bin_dir,
                                    const std::filesystem::path& dir, bool keep) {
  const RunAs& run_as = PostgresUser();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  std::vector<std::string> argv_storage = {
      "/bin/sh",        "-c",         kWatchdogScript,         "trellis-pg-watchdog",
      bin_dir.string(), dir.string(), keep ? "keep" : "remove"};
  std::vector<char*> args;
  for (auto& a : argv_storage) args.push_back(a.data());
  args.push_back(nullptr);
  std::string path_env = "PATH=/usr/bin:/bin";
  std::string lc_env = "LC_ALL=C";
  char* envp[] = {path_env.data(), lc_env.data(), nullptr};

  const pid_t pid = fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    setsid();
    dup2(fds[1], STDIN_FILENO);
    if (devnull >= 0) {
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
    }
    if (run_as.switch_user && (setgroups(run_as.groups.size(), run_as.groups.data()) != 0 ||
                               setgid(run_as.gid) != 0 || setuid(run_as.uid) != 0)) {
      _exit(127);
    }
    if (chdir("/") != 0) _exit(127);
    execve(args[0], args.data(), envp);
    _exit(127);
  }
  close(fds[1]);
  if (devnull >= 0) close(devnull);
  return {pid, fds[0]};
}

// initdb takes most of a start (0.5-0.9 s here), so it runs once per process into a template
// data dir that each Start() copies with `cp -a` as `postgres` (0.05-0.3 s). The clusters of
// one process therefore share the superuser password. The template is removed at exit; one
// left by a crashed process (its pid is in the name) is removed by the next process's first
// Start().
class DataDirTemplate {
 public:
  static const DataDirTemplate& Get(const std::filesystem::path& bin_dir) {
    static std::mutex mutex;
    static std::unique_ptr<DataDirTemplate> instance;
    std::lock_guard lock(mutex);
    if (!instance) {
      RemoveStale();
      instance.reset(new DataDirTemplate(bin_dir));
    }
    return *instance;
  }

  ~DataDirTemplate() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  DataDirTemplate(const DataDirTemplate&) = delete;
  DataDirTemplate& operator=(const DataDirTemplate&) = delete;

  [[nodiscard]] std::filesystem::path DataDir() const { return dir_ / "data"; }
  [[nodiscard]] const std::string& Password() const { return password_; }

 private:
  static constexpr std::string_view kPrefix = "trellis-pg-template-";

  explicit DataDirTemplate(const std::filesystem::path& bin_dir)
      : dir_(MakeClusterDir(std::string(kPrefix) + std::to_string(getpid()) + "-")),
        password_(RandomHex(32)) {
    const auto pwfile = dir_ / "pwfile";
    WriteFile(pwfile, password_ + "\n");
    ProcessOptions opts;
    opts.cwd = dir_;
    ProcessResult r = RunProcess(
        {(bin_dir / "initdb").string(), "-D", DataDir().string(), "-U", PostgresCluster::kSuperuser,
         "--pwfile=" + pwfile.string(), "--auth-host=scram-sha-256", "--auth-local=trust", "-E",
         "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
        opts);
    std::filesystem::remove(pwfile);
    if (!r.Ok()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      throw std::runtime_error("PostgresCluster: initdb failed:\n" + r.err + r.out);
    }
  }

  static void RemoveStale() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(BaseDir(), ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with(kPrefix)) continue;
      const std::string rest = name.substr(kPrefix.size());
      const auto dash = rest.find('-');
      if (dash == 0 || dash == std::string::npos) continue;
      if (!std::all_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(dash), ::isdigit)) {
        continue;
      }
      const pid_t pid = std::stoi(rest.substr(0, dash));
      if (kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), ec);
    }
  }

  std::filesystem::path dir_;
  std::string password_;
};

}  // namespace

// ---- PostgresCluster ----------------------------------------------------------------------

std::unique_ptr<PostgresCluster> PostgresCluster::Start(PostgresClusterOptions options) {
  // Postmasters are daemonised by pg_ctl and would be orphaned to pid 1, which in containers
  // often never reaps them; as their subreaper this process reaps them when they stop.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Constructed before anything starts, so that a throw below runs the destructor, which stops
  // whatever is already running and removes the dir.
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster());
  PhaseTimer timer;
  cluster->bin_dir_ = FindBinDir();
  cluster->dir_ = MakeClusterDir("trellis-pg-");
  std::tie(cluster->watchdog_pid_, cluster->watchdog_fd_) =
      StartWatchdog(cluster->bin_dir_, cluster->dir_, KeepDir());
  cluster->primary_.name = "primary";
  cluster->InitPrimary();
  timer.Mark("data dir");
  cluster->StartServer(cluster->primary_, /*pick_new_port_on_clash=*/true);
  timer.Mark("start primary");
  if (options.replica) {
    cluster->replica_.name = "replica";
    cluster->MakeReplica();
    timer.Mark("pg_basebackup");
    cluster->StartServer(cluster->replica_, /*pick_new_port_on_clash=*/true);
    timer.Mark("start replica");
    cluster->WaitUntilStreaming();
    timer.Mark("streaming");
  }
  return cluster;
}

PostgresCluster::~PostgresCluster() {
  if (!replica_.data_dir.empty()) StopServer(replica_);
  if (!primary_.data_dir.empty()) StopServer(primary_);
  if (!dir_.empty()) {
    if (KeepDir()) {
      std::cerr << "PostgresCluster: " << kKeepEnv << " set, keeping " << dir_.string() << "\n";
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  if (watchdog_fd_ >= 0) {
    static constexpr char kDone[] = "done\n";
    (void)send(watchdog_fd_, kDone, sizeof kDone - 1, MSG_NOSIGNAL);
    close(watchdog_fd_);
  }
  if (watchdog_pid_ > 0) waitpid(watchdog_pid_, nullptr, 0);
}

void PostgresCluster::InitPrimary() {
  primary_.data_dir = dir_ / "primary";
  const auto sock = dir_ / "sock";
  std::filesystem::create_directory(sock);
  chmod(sock.c_str(), S_IRWXU);
  GiveToPostgres(sock);

  const DataDirTemplate& base = DataDirTemplate::Get(bin_dir_);
  password_ = base.Password();
  ProcessOptions opts;
  opts.cwd = dir_;
  ProcessResult r =
      RunProcess({"/bin/cp", "-a", base.DataDir().string(), primary_.data_dir.string()}, opts);
  if (!r.Ok()) Fail("copying the initdb template failed:\n" + r.err + r.out, nullptr);

  std::string conf =
      "\n# trellis test harness (tests/support/postgres_cluster.cpp)\n"
      "listen_addresses = '127.0.0.1'\n"
      "unix_socket_directories = " +
      ConfQuote(sock.string()) +
      "\n"
      "fsync = off\n"
      "synchronous_commit = off\n"
      "wal_writer_delay = '10ms'\n"
      "full_page_writes = off\n"
      "wal_level = replica\n"
      "max_wal_senders = 5\n"
      "wal_keep_size = '256MB'\n"
      "hot_standby = on\n"
      "hot_standby_feedback = on\n"
      "wal_receiver_status_interval = '1s'\n"
      "wal_retrieve_retry_interval = '200ms'\n"
      "max_connections = 200\n"
      "shared_buffers = '64MB'\n"
      "logging_collector = off\n"
      // Not posix: a SIGKILLed postmaster (KillPrimary) would leave its segments in /dev/shm.
      "dynamic_shared_memory_type = mmap\n"
      "log_line_prefix = '%m [%p] %q%u@%d '\n"
      "password_encryption = 'scram-sha-256'\n";
  WriteFile(primary_.data_dir / "postgresql.conf", conf, std::ios::app);
  const std::string hba =
      "# trellis test harness: scram over loopback TCP; the unix socket sits in a private dir\n"
      "local all all trust\n"
      "local replication all trust\n"
      "host replication postgres 127.0.0.1/32 scram-sha-256\n"
      "host all all 127.0.0.1/32 scram-sha-256\n";
  WriteFile(primary_.data_dir / "pg_hba.conf", hba);
}

void PostgresCluster::MakeReplica() {
  replica_.data_dir = dir_ / "replica";
  ProcessOptions opts;
  opts.cwd = dir_;
  opts.env = {{"PGPASSWORD", password_}, {"PGCONNECT_TIMEOUT", "10"}};
  ProcessResult r =
      RunProcess({(bin_dir_ / "pg_basebackup").string(), "-D", replica_.data_dir.string(), "-R",
                  "-X", "stream", "-c", "fast", "--no-sync", "-w", "-h", "127.0.0.1", "-p",
                  std::to_string(primary_.port), "-U", kSuperuser},
                 opts);
  if (!r.Ok()) Fail("pg_basebackup failed:\n" + r.err + r.out, &primary_);
}

void PostgresCluster::StartServer(Server& server, bool pick_new_port_on_clash) {
  const auto log = dir_ / (server.name + ".log");
  for (int attempt = 1;; ++attempt) {
    if (server.port == 0 || (attempt > 1 && pick_new_port_on_clash)) server.port = PickFreePort();
    // Truncate the log per attempt so the clash check below reads this attempt only.
    WriteFile(log, "");
    ProcessOptions opts;
    opts.cwd = dir_;
    ProcessResult r =
        RunProcess({(bin_dir_ / "pg_ctl").string(), "start", "-D", server.data_dir.string(), "-l",
                    log.string(), "-w", "-t", std::to_string(kPgCtlWaitSeconds), "-o",
                    "-p " + std::to_string(server.port)},
                   opts);
    if (r.Ok()) {
      server.running = true;
      return;
    }
    // pg_ctl may have left a postmaster behind (e.g. on its own timeout).
    server.running = true;
    StopServer(server);
    const std::string tail = LogTail(log);
    const bool clash = tail.find("could not bind") != std::string::npos ||
                       tail.find("Address already in use") != std::string::npos;
    if (!clash || !pick_new_port_on_clash || attempt >= kStartAttempts) {
      Fail("pg_ctl start of the " + server.name + " failed:\n" + r.err + r.out, &server);
    }
  }
}

void PostgresCluster::StopServer(Server& server) noexcept {
  if (server.data_dir.empty()) return;
  try {
    const pid_t pid = PostmasterPid(server.data_dir);
    if (server.running && pid != 0 && !ProcessGone(pid)) {
      ProcessOptions opts;
      opts.cwd = dir_;
      opts.timeout = milliseconds(60'000);
      (void)RunProcess({(bin_dir_ / "pg_ctl").string(), "stop", "-D", server.data_dir.string(),
                        "-m", "immediate", "-w", "-t", "30"},
                       opts);
    }
    // Whatever pg_ctl could not stop (or a postmaster we never knew was running).
    if (pid != 0 && !ProcessGone(pid) && IsPostgresProcess(pid)) {
      const auto children = ChildrenOf(pid);
      kill(pid, SIGKILL);
      WaitGone({pid}, kProcessGoneTimeout);
      for (pid_t child : children) kill(child, SIGKILL);
      WaitGone(children, kProcessGoneTimeout);
    }
    if (pid != 0 && WaitGone({pid}, kProcessGoneTimeout)) RemoveStaleLockFile(server.data_dir);
  } catch (...) {
    // Best effort: a destructor path.
  }
  server.running = false;
}

void PostgresCluster::WaitUntilStreaming() {
  WaitForSql(false, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", "1",
             "the replica to stream from the primary", kStreamingTimeout);
}

void PostgresCluster::WaitForSql(bool replica, const std::string& sql, const std::string& want,
                                 const std::string& what, std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  while (true) {
    try {
      last = Psql(sql, "postgres", replica);
      if (last == want) return;
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (Clock::now() > deadline) {
      Fail("timed out waiting for " + what + " (last answer: " + last + ")",
           replica ? &replica_ : &primary_);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void PostgresCluster::Fail(const std::string& what, const Server* server) const {
  std::string msg = "PostgresCluster (" + dir_.string() + "): " + what;
  if (server != nullptr) {
    msg += "\n--- tail of " + server->name + ".log ---\n" + LogTail(dir_ / (server->name + ".log"));
  }
  throw std::runtime_error(msg);
}

std::string PostgresCluster::ConnectionString(const std::string& user, const std::string& password,
                                              const std::string& dbname, bool replica) const {
  return "host=127.0.0.1 port=" + std::to_string(replica ? replica_.port : primary_.port) +
         " user=" + ConninfoValue(user) + " password=" + ConninfoValue(password) +
         " dbname=" + ConninfoValue(dbname);
}

std::string PostgresCluster::MultiHostConnectionString(
    const std::string& user, const std::string& password, const std::string& dbname,
    const std::string& target_session_attrs) const {
  const std::string hosts = HasReplica() ? "127.0.0.1,127.0.0.1" : "127.0.0.1";
  std::string ports = std::to_string(primary_.port);
  if (HasReplica()) ports += "," + std::to_string(replica_.port);
  return "host=" + hosts + " port=" + ports + " user=" + ConninfoValue(user) +
         " password=" + ConninfoValue(password) + " dbname=" + ConninfoValue(dbname) +
         " target_session_attrs=" + ConninfoValue(target_session_attrs);
}

std::string PostgresCluster::Psql(const std::string& sql, const std::string& dbname, bool replica,
                                  const std::string& user, const std::string& password) const {
  const bool superuser = user.empty();
  ProcessOptions opts;
  opts.cwd = dir_;
  opts.stdin_data = sql;
  opts.env = {{"PGPASSWORD", superuser ? password_ : password}, {"PGCONNECT_TIMEOUT", "10"}};
  const int port = replica ? replica_.port : primary_.port;
  return TrimNewlines(
      RunChecked({(bin_dir_ / "psql").string(), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-w",
                  "-h", "127.0.0.1", "-p", std::to_string(port), "-U",
                  superuser ? kSuperuser : user, "-d", dbname, "-f", "-"},
                 opts)
          .out);
}

std::string PostgresCluster::PsqlFile(
    const std::filesystem::path& file, const std::string& dbname,
    const std::vector<std::pair<std::string, std::string>>& vars) const {
  ProcessOptions opts;
  opts.cwd = dir_;
  opts.env = {{"PGPASSWORD", password_}, {"PGCONNECT_TIMEOUT", "10"}};
  std::vector<std::string> argv = {(bin_dir_ / "psql").string(),
                                   "-X",
                                   "-q",
                                   "-At",
                                   "-v",
                                   "ON_ERROR_STOP=1",
                                   "-w",
                                   "-h",
                                   "127.0.0.1",
                                   "-p",
                                   std::to_string(primary_.port),
                                   "-U",
                                   kSuperuser,
                                   "-d",
                                   dbname};
  for (const auto& [name, value] : vars) {
    argv.emplace_back("-v");
    argv.push_back(name + "=" + value);
  }
  argv.emplace_back("-f");
  argv.push_back(std::filesystem::absolute(file).string());
  return TrimNewlines(RunChecked(argv, opts).out);
}

std::string PostgresCluster::CreateDatabase(const std::string& owner) {
  std::string name = "trellis_test_" + std::to_string(++database_counter_);
  Psql("CREATE DATABASE " + QuoteIdent(name) + " TEMPLATE template0 OWNER " + QuoteIdent(owner));
  return name;
}

void PostgresCluster::KillPrimary() {
  const pid_t pid = PostmasterPid(primary_.data_dir);
  if (pid == 0 || ProcessGone(pid)) Fail("KillPrimary: the primary is not running", nullptr);
  const auto children = ChildrenOf(pid);
  kill(pid, SIGKILL);
  primary_.running = false;
  // The backends notice their postmaster's death and exit by themselves, as after a crash.
  if (!WaitGone({pid}, kProcessGoneTimeout) || !WaitGone(children, kProcessGoneTimeout)) {
    Fail("KillPrimary: the primary's processes did not go away", &primary_);
  }
}

void PostgresCluster::StopPrimary() {
  StopServer(primary_);
  if (const pid_t pid = PostmasterPid(primary_.data_dir); pid != 0 && !ProcessGone(pid)) {
    Fail("StopPrimary: the primary is still running", &primary_);
  }
}

void PostgresCluster::StartPrimary() {
  // After KillPrimary the pid file is stale; were its pid a zombie the postmaster would take it
  // for a live owner and refuse to start. Every process of the old one is gone (KillPrimary
  // waited).
  RemoveStaleLockFile(primary_.data_dir);
  StartServer(primary_, /*pick_new_port_on_clash=*/false);
}

void PostgresCluster::PromoteReplica() {
  if (!HasReplica()) Fail("PromoteReplica: there is no replica", nullptr);
  ProcessOptions opts;
  opts.cwd = dir_;
  ProcessResult r =
      RunProcess({(bin_dir_ / "pg_ctl").string(), "promote", "-D", replica_.data_dir.string(), "-w",
                  "-t", std::to_string(kPgCtlWaitSeconds)},
                 opts);
  if (!r.Ok()) Fail("pg_ctl promote failed:\n" + r.err + r.out, &replica_);
  WaitForSql(true, "SELECT pg_is_in_recovery()", "f", "the promoted replica to accept writes",
             kPromoteTimeout);
}

void PostgresCluster::PauseReplay() {
  if (!HasReplica()) Fail("PauseReplay: there is no replica", nullptr);
  Psql("SELECT pg_wal_replay_pause()", "postgres", true);
  // 'pause requested' already holds back every record after the current one; 'paused' comes
  // only once the startup process reaches its next check, which may wait for new WAL.
  const std::string state = Psql("SELECT pg_get_wal_replay_pause_state()", "postgres", true);
  if (state == "not paused") Fail("PauseReplay: replay is not paused", &replica_);
}

void PostgresCluster::ResumeReplay() {
  if (!HasReplica()) Fail("ResumeReplay: there is no replica", nullptr);
  Psql("SELECT pg_wal_replay_resume()", "postgres", true);
}

void PostgresCluster::WaitForReplay() {
  if (!HasReplica()) Fail("WaitForReplay: there is no replica", nullptr);
  // The insert position, not pg_current_wal_lsn() (the write position): with
  // synchronous_commit off a commit record may still sit in the WAL buffers, and the replica
  // must have replayed it too. The WAL writer sends it within wal_writer_delay.
  const std::string lsn = Psql("SELECT pg_current_wal_insert_lsn()");
  WaitForSql(true, "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn", "t",
             "the replica to replay up to " + lsn, kReplayTimeout);
}

}  // namespace trellis::tests::support
