#include "harness/testbed.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

namespace mv::test {

namespace fs = std::filesystem;

temp_dir::temp_dir(const std::string& prefix) {
    const char* t = std::getenv("TMPDIR");
    fs::path base = t && *t ? fs::path(t) : fs::temp_directory_path();
    std::string tmpl = (base / (prefix + "-XXXXXX")).string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    if (std::getenv("MV_KEEP_TMP")) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + p.string());
    out << data;
}

run_result run_command(const std::vector<std::string>& argv, const std::string& stdin_data,
                       const std::map<std::string, std::string>& env) {
    int in_pipe[2], out_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(out_pipe[1], 2);
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    // Feed stdin and drain stdout together so neither side blocks on a full pipe.
    size_t written = 0;
    if (stdin_data.empty()) close(in_pipe[1]);
    bool in_open = !stdin_data.empty();
    run_result r;
    char buf[65536];
    for (;;) {
        pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {in_open ? in_pipe[1] : -1, POLLOUT, 0}};
        if (poll(fds, 2, -1) < 0) continue;
        if (in_open && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in_pipe[1], stdin_data.data() + written, stdin_data.size() - written);
            if (n > 0) written += static_cast<size_t>(n);
            if (n < 0 || written == stdin_data.size()) {
                close(in_pipe[1]);
                in_open = false;
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(out_pipe[0], buf, sizeof buf);
            if (n <= 0) break;
            r.output.append(buf, static_cast<size_t>(n));
        }
    }
    if (in_open) close(in_pipe[1]);
    close(out_pipe[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

static std::string script_path() { return std::string(MV_SOURCE_DIR) + "/scripts/testbed.py"; }

testbed::testbed(testbed_options opts) : dir_("mailvault-dovecot") {
    std::vector<std::string> args = {"start", dir_.path().string()};
    for (const auto& u : opts.users) {
        std::string spec = u.name + ":" + u.password;
        if (!u.seed_dir.empty()) spec += ":" + u.seed_dir;
        args.push_back("--user");
        args.push_back(spec);
    }
    if (!opts.compress) args.push_back("--no-compress");
    for (const auto& c : opts.disabled_caps) {
        args.push_back("--disable-cap");
        args.push_back(c);
    }
    read_ports(run_script(args));
}

testbed::~testbed() {
    try {
        run_script({"stop", dir_.path().string()});
    } catch (...) {
        // Never throw from a destructor; the script already killed what it could.
    }
}

std::string testbed::run_script(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"python3", script_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    if (r.status != 0) throw std::runtime_error("testbed.py " + args[0] + ": " + r.output);
    return r.output;
}

void testbed::read_ports(const std::string& json) {
    auto j = nlohmann::json::parse(json);
    for (auto& [k, v] : j.at("ports").items()) ports_[k] = v.get<std::uint16_t>();
}

fs::path testbed::maildir(const std::string& user) const {
    return dir_.path() / "home" / user / "Maildir";
}

fs::path testbed::folder_dir(const std::string& user, const std::string& folder) const {
    if (folder == "INBOX") return maildir(user);
    std::string name = "." + folder;
    for (auto& c : name)
        if (c == '/') c = '.';
    return maildir(user) / name;
}

std::map<std::uint32_t, std::string> testbed::messages(const std::string& user,
                                                       const std::string& folder) const {
    // Dovecot's maildir uidlist maps UIDs to base file names ("uid [extensions] :basename").
    fs::path dir = folder_dir(user, folder);
    std::map<std::string, std::uint32_t> uid_of;
    std::istringstream in(read_file(dir / "dovecot-uidlist"));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::uint32_t uid = static_cast<std::uint32_t>(std::stoul(line));
        uid_of[line.substr(colon + 1)] = uid;
    }
    std::map<std::uint32_t, std::string> out;
    for (const char* sub : {"cur", "new"}) {
        if (!fs::exists(dir / sub)) continue;
        for (const auto& e : fs::directory_iterator(dir / sub)) {
            std::string base = e.path().filename().string();
            base = base.substr(0, base.find(':'));
            auto it = uid_of.find(base);
            if (it != uid_of.end()) out[it->second] = read_file(e.path());
        }
    }
    return out;
}

std::uint32_t testbed::add(const std::string& user, const std::string& folder,
                           const std::string& file, const std::string& flags) {
    std::vector<std::string> args = {"add", dir_.path().string(), user, folder, file};
    if (!flags.empty()) {
        args.push_back("--flags");
        args.push_back(flags);
    }
    return static_cast<std::uint32_t>(std::stoul(run_script(args)));
}

void testbed::flags(const std::string& user, const std::string& folder, std::uint32_t uid,
                    const std::string& op, const std::vector<std::string>& fl) {
    std::vector<std::string> args = {"flags", dir_.path().string(), user, folder,
                                     std::to_string(uid), op};
    args.insert(args.end(), fl.begin(), fl.end());
    run_script(args);
}

void testbed::expunge(const std::string& user, const std::string& folder,
                      const std::vector<std::uint32_t>& uids) {
    std::vector<std::string> args = {"expunge", dir_.path().string(), user, folder};
    for (auto u : uids) args.push_back(std::to_string(u));
    run_script(args);
}

void testbed::set_uidvalidity(const std::string& user, const std::string& folder,
                              std::uint32_t v) {
    run_script({"uidvalidity", dir_.path().string(), user, folder, std::to_string(v)});
}

void testbed::mkdir(const std::string& user, const std::string& folder) {
    run_script({"mkdir", dir_.path().string(), user, folder});
}

void testbed::restart(const std::vector<std::string>& disabled_caps, bool compress) {
    std::vector<std::string> args = {"restart", dir_.path().string()};
    for (const auto& c : disabled_caps) {
        args.push_back("--disable-cap");
        args.push_back(c);
    }
    // An empty list must still clear earlier removals.
    if (disabled_caps.empty()) {
        args.push_back("--disable-cap");
        args.push_back("NONE");
    }
    args.push_back(compress ? "--compress" : "--no-compress");
    read_ports(run_script(args));
}

}  // namespace mv::test
