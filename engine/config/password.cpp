// Obtaining an account's password from its configured source, and checking that source without
// obtaining it (for `config check`). Messages name the account and the config key, never the
// password or any output of the password command.

#include <fcntl.h>
#include <openssl/crypto.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "mailvault/config.hpp"

extern char** environ;

namespace mv::config {

namespace {

constexpr std::size_t max_secret_bytes = 64 * 1024;

std::string where(const account& a) {
    std::string prefix =
        a.password.origin.empty() ? std::string(to_string(a.password.kind)) : a.password.origin;
    return prefix;
}

std::string suffix(const account& a) {
    return " (account \"" + a.name + "\")";
}

mv::error fail(const account& a, const std::string& what) {
    return {errc::config, where(a) + ": " + what + suffix(a)};
}

std::string sys_error(int e) {
    return std::strerror(e);
}

// The secret is the first line; a trailing "\r" goes too (files edited on Windows).
std::string first_line(const std::string& data) {
    std::string line = data.substr(0, data.find('\n'));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

void wipe(std::string& s) {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

class fd_guard {
public:
    explicit fd_guard(int fd) : fd_(fd) {}
    ~fd_guard() {
        if (fd_ >= 0) ::close(fd_);
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

// Reads everything, keeping at most max_secret_bytes (the rest is drained so that a writer does
// not die of SIGPIPE). Returns errno or 0.
int read_all(int fd, std::string& out) {
    std::array<char, 4096> buf{};
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            OPENSSL_cleanse(buf.data(), buf.size());
            return e;
        }
        if (n == 0) break;
        std::size_t room = max_secret_bytes - std::min(out.size(), max_secret_bytes);
        out.append(buf.data(), std::min(room, static_cast<std::size_t>(n)));
    }
    OPENSSL_cleanse(buf.data(), buf.size());
    return 0;
}

// Opens password_file and refuses unsafe files. On success `fd` owns the descriptor.
mv::error open_password_file(const account& a, int& fd) {
    const std::string& path = a.password.value;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(a, "cannot open " + path + " (" + sys_error(errno) +
                           "); check the path and that it is readable by you");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        fd = -1;
        return fail(a, "cannot stat " + path + " (" + sys_error(e) + ")");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fd = -1;
        return fail(a, path + " is not a regular file; point password_file at a file");
    }
    if ((st.st_mode & 077) != 0) {
        ::close(fd);
        fd = -1;
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return fail(a, path + " is readable or writable by group or others (mode " + mode +
                           "); run: chmod 600 " + path);
    }
    return {};
}

std::string resolve_file(const account& a) {
    int raw = -1;
    if (auto err = open_password_file(a, raw)) throw mv::failure(std::move(err));
    fd_guard fd(raw);
    std::string data;
    if (int e = read_all(fd.get(), data); e != 0) {
        wipe(data);
        throw mv::failure(fail(a, "cannot read " + a.password.value + " (" + sys_error(e) + ")"));
    }
    std::string pw = first_line(data);
    wipe(data);
    if (pw.empty())
        throw mv::failure(
            fail(a, a.password.value + " has an empty first line; put the password on line 1"));
    return pw;
}

// The variable's name is not repeated in messages (a password pasted as the name would leak);
// the message points at the key by file:line:column instead.
mv::error check_env(const account& a) {
    const char* v = std::getenv(a.password.value.c_str());
    if (!v)
        return fail(a,
                    "the environment variable named here is not set; export it before running "
                    "mailvault");
    if (!*v) return fail(a, "the environment variable named here is empty; set it to the password");
    return {};
}

std::string resolve_env(const account& a) {
    const char* v = std::getenv(a.password.value.c_str());
    if (mv::error err = check_env(a)) throw mv::failure(std::move(err));
    return v;
}

std::string resolve_command(const account& a) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
        throw mv::failure(fail(a, "cannot create a pipe (" + sys_error(errno) + ")"));
    fd_guard rd(p[0]);
    fd_guard wr(p[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on the child's stdout; both pipe ends are closed by exec.
    posix_spawn_file_actions_adddup2(&actions, wr.get(), STDOUT_FILENO);

    std::string sh = "/bin/sh", dash_c = "-c", cmd = a.password.value;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw mv::failure(fail(a, "cannot start /bin/sh (" + sys_error(rc) + ")"));
    wr.reset();  // so that read() sees EOF when the command exits

    std::string data;
    int read_err = read_all(rd.get(), data);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            wipe(data);
            throw mv::failure(
                fail(a, "cannot wait for password_command (" + sys_error(errno) + ")"));
        }
    }
    if (read_err != 0) {
        wipe(data);
        throw mv::failure(
            fail(a, "cannot read the output of password_command (" + sys_error(read_err) + ")"));
    }
    if (WIFSIGNALED(status)) {
        wipe(data);
        throw mv::failure(fail(a, "password_command was killed by signal " +
                                      std::to_string(WTERMSIG(status)) +
                                      "; run it by hand to see why"));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        wipe(data);
        throw mv::failure(fail(a, "password_command exited with status " +
                                      std::to_string(WEXITSTATUS(status)) +
                                      "; run it by hand to see why"));
    }
    std::string pw = first_line(data);
    wipe(data);
    if (pw.empty())
        throw mv::failure(fail(a,
                               "password_command printed nothing on its first line; it must "
                               "print the password on stdout"));
    return pw;
}

bool executable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

bool is_identifier_assignment(std::string_view w) {
    std::size_t eq = w.find('=');
    if (eq == 0 || eq == std::string_view::npos) return false;
    for (std::size_t i = 0; i < eq; ++i) {
        char c = w[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    return !std::isdigit(static_cast<unsigned char>(w[0]));
}

// The program a shell command line starts with: skips leading NAME=value assignments and
// strips simple quotes. Good enough for a sanity check; the shell has the last word.
std::string program_of(std::string_view cmd) {
    std::size_t i = 0;
    for (;;) {
        while (i < cmd.size() && std::isspace(static_cast<unsigned char>(cmd[i]))) ++i;
        if (i >= cmd.size()) return {};
        std::string word;
        while (i < cmd.size() && !std::isspace(static_cast<unsigned char>(cmd[i])) &&
               std::string_view(";|&<>()").find(cmd[i]) == std::string_view::npos) {
            char c = cmd[i++];
            if (c == '\'' || c == '"') {
                std::size_t end = cmd.find(c, i);
                if (end == std::string_view::npos) end = cmd.size();
                word.append(cmd.substr(i, end - i));
                i = end < cmd.size() ? end + 1 : end;
            } else {
                word += c;
            }
        }
        if (word.empty()) return {};
        if (!is_identifier_assignment(word)) return word;
    }
}

bool is_shell_builtin(std::string_view w) {
    for (std::string_view b : {"echo", "printf", "read", "eval", "exec", "test", "[", "true",
                               "false", "cd", "command", ".", ":"})
        if (w == b) return true;
    return false;
}

mv::error check_command(const account& a) {
    std::string prog = program_of(a.password.value);
    if (prog.empty())
        return fail(a, "password_command is empty; write the command that prints the password");
    // The program is not named in messages: a password pasted as the command would leak.
    if (prog.find('/') != std::string::npos) {
        if (executable_file(prog)) return {};
        return fail(a,
                    "the command's program (its first word) does not exist or is not "
                    "executable; fix the path");
    }
    if (is_shell_builtin(prog)) return {};
    const char* path_env = std::getenv("PATH");
    std::string path = path_env && *path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string dir = path.substr(start, end - start);
        if (dir.empty()) dir = ".";
        if (executable_file(dir + "/" + prog)) return {};
        start = end + 1;
    }
    return fail(a,
                "the command's program (its first word) is not found in $PATH; install it or "
                "write its full path");
}

}  // namespace

std::string resolve_password(const account& acct) {
    switch (acct.password.kind) {
        case password_kind::command: return resolve_command(acct);
        case password_kind::file: return resolve_file(acct);
        case password_kind::env: return resolve_env(acct);
    }
    throw mv::failure(errc::internal, "unknown password source");
}

mv::error check_password_source(const account& acct) {
    switch (acct.password.kind) {
        case password_kind::command: return check_command(acct);
        case password_kind::file: {
            int fd = -1;
            mv::error err = open_password_file(acct, fd);
            if (fd >= 0) ::close(fd);
            return err;
        }
        case password_kind::env: return check_env(acct);
    }
    return {errc::internal, "unknown password source"};
}

}  // namespace mv::config
