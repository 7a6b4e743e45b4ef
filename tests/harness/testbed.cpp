#include "harness/testbed.hpp"

#include "imap/writer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
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
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
        pipe2(err_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        for (const auto& [k, v] : env) {
            if (v.empty())
                unsetenv(k.c_str());
            else
                setenv(k.c_str(), v.c_str(), 1);
        }
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    // Feed stdin and drain both outputs together so no side blocks on a full pipe.
    size_t written = 0;
    bool in_open = !stdin_data.empty();
    if (!in_open) close(in_pipe[1]);
    bool out_open = true, err_open = true;
    run_result r;
    char buf[65536];
    while (out_open || err_open) {
        pollfd fds[3] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                         {err_open ? err_pipe[0] : -1, POLLIN, 0},
                         {in_open ? in_pipe[1] : -1, POLLOUT, 0}};
        if (poll(fds, 3, -1) < 0) continue;
        if (in_open && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in_pipe[1], stdin_data.data() + written, stdin_data.size() - written);
            if (n > 0) written += static_cast<size_t>(n);
            if (n < 0 || written == stdin_data.size()) {
                close(in_pipe[1]);
                in_open = false;
            }
        }
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(i == 0 ? out_pipe[0] : err_pipe[0], buf, sizeof buf);
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
                continue;
            }
            (i == 0 ? r.output : r.errors).append(buf, static_cast<size_t>(n));
        }
    }
    if (in_open) close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

static std::string script_path() {
    return std::string(MV_SOURCE_DIR) + "/scripts/testbed.py";
}

testbed_options dovecot_inbox_prefix_options(std::vector<testbed_user> users) {
    testbed_options o;
    o.users = std::move(users);
    o.ns_prefix = "INBOX.";
    o.separator = '.';
    return o;
}

testbed_options cyrus_options(std::vector<testbed_user> users) {
    testbed_options o;
    o.users = std::move(users);
    o.server = server_kind::cyrus;
    return o;
}

bool cyrus_available() {
    // The same checks as cyrus_available() in scripts/testbed.py.
    auto exe = [](const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; };
    if (!exe("/usr/sbin/cyrmaster") || !exe("/usr/sbin/saslpasswd2")) return false;
    std::vector<std::string> dirs = {"/opt/mailvault/cyrus/usr/lib/cyrus/bin",
                                     "/usr/lib/cyrus/bin"};
    if (const char* e = std::getenv("MAILVAULT_CYRUS_BIN"); e && *e) dirs.insert(dirs.begin(), e);
    for (const auto& d : dirs)
        if (exe(fs::path(d) / "imapd") && exe(fs::path(d) / "pop3d")) return true;
    return false;
}

testbed::testbed(testbed_options opts)
    : dir_(opts.server == server_kind::cyrus ? "mailvault-cyrus" : "mailvault-dovecot") {
    std::vector<std::string> args = {"start", dir_.path().string()};
    if (opts.server == server_kind::cyrus) {
        args.push_back("--server");
        args.push_back("cyrus");
    }
    if (opts.ns_prefix) {
        args.push_back("--ns-prefix=" + *opts.ns_prefix);
    }
    if (opts.separator) {
        args.push_back("--separator");
        args.push_back(std::string(1, *opts.separator));
    }
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
    for (const auto& [name, attr] : opts.special_use) {
        args.push_back("--special-use");
        args.push_back(name + "=" + attr);
    }
    if (opts.quota) args.push_back("--quota=" + *opts.quota);
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
    if (r.status != 0)
        throw std::runtime_error("testbed.py " + args[0] + ": " + r.output + r.errors);
    return r.output;
}

void testbed::read_ports(const std::string& json) {
    auto j = nlohmann::json::parse(json);
    for (auto& [k, v] : j.at("ports").items()) ports_[k] = v.get<std::uint16_t>();
    kind_ = j.value("server", std::string("dovecot")) == "cyrus" ? server_kind::cyrus
                                                                 : server_kind::dovecot;
    ns_prefix_ = j.value("ns_prefix", std::string());
    auto sep = j.value("separator", std::string("/"));
    separator_ = sep.empty() ? '/' : sep[0];
}

std::string testbed::folder_name(const std::string& seed_folder) const {
    std::string upper = seed_folder;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "INBOX") return "INBOX";
    std::string out = ns_prefix_;
    for (char c : seed_folder) out.push_back(c == '.' || c == '/' ? separator_ : c);
    return out;
}

static std::string unhex(const std::string& h) {
    std::string out;
    out.reserve(h.size() / 2);
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

testbed::served_folder testbed::served(const std::string& user, const std::string& folder) const {
    auto j = nlohmann::json::parse(run_script({"list", dir_.path().string(), user, folder}));
    served_folder out;
    out.uidvalidity = j.at("uidvalidity").get<std::uint32_t>();
    for (auto& [uid, m] : j.at("messages").items()) {
        message_info mi;
        mi.content = unhex(m.at("hex").get<std::string>());
        mi.flags = m.at("flags").get<std::vector<std::string>>();
        std::sort(mi.flags.begin(), mi.flags.end());
        mi.mtime = m.at("internaldate").get<std::int64_t>();
        if (mi.content.size() != m.at("size").get<std::size_t>())
            throw std::runtime_error("testbed: BODY[] of UID " + uid + " in " + folder +
                                     " disagrees with RFC822.SIZE");
        out.messages[static_cast<std::uint32_t>(std::stoul(uid))] = std::move(mi);
    }
    return out;
}

std::vector<std::string> testbed::folders(const std::string& user) const {
    auto j = nlohmann::json::parse(run_script({"folders", dir_.path().string(), user}));
    std::vector<std::string> out;
    for (const auto& f : j) out.push_back(f.at("name").get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
}

fs::path testbed::maildir(const std::string& user) const {
    if (kind_ == server_kind::cyrus)
        throw std::logic_error("testbed: Cyrus has no Maildir; use served()");
    return dir_.path() / "home" / user / "Maildir";
}

fs::path testbed::folder_dir(const std::string& user, const std::string& folder) const {
    if (kind_ == server_kind::cyrus)
        throw std::logic_error("testbed: Cyrus has no Maildir; use served()");
    if (folder == "INBOX") return maildir(user);
    // With a namespace prefix ("INBOX."), the on-disk Maildir++ name has no prefix.
    std::string rel = folder;
    if (!ns_prefix_.empty() && rel.rfind(ns_prefix_, 0) == 0) rel = rel.substr(ns_prefix_.size());
    // Dovecot names Maildir++ folders in modified UTF-7 on disk.
    std::string name = "." + imap::encode_mailbox_name(rel, false);
    for (auto& c : name)
        if (c == separator_) c = '.';
    return maildir(user) / name;
}

std::map<std::uint32_t, std::string> testbed::messages(const std::string& user,
                                                       const std::string& folder) const {
    std::map<std::uint32_t, std::string> out;
    for (auto& [uid, info] : message_infos(user, folder)) out[uid] = std::move(info.content);
    return out;
}

std::uint32_t testbed::uidvalidity(const std::string& user, const std::string& folder) const {
    if (kind_ == server_kind::cyrus) return served(user, folder).uidvalidity;
    // uidlist header: "3 V<uidvalidity> N<nextuid> G<guid>"
    std::istringstream in(read_file(folder_dir(user, folder) / "dovecot-uidlist"));
    std::string version, v;
    in >> version >> v;
    return static_cast<std::uint32_t>(std::stoul(v.substr(1)));
}

std::map<std::uint32_t, testbed::message_info> testbed::message_infos(
    const std::string& user, const std::string& folder) const {
    if (kind_ == server_kind::cyrus) return served(user, folder).messages;
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
    // Keywords: "dovecot-keywords" lists "N name"; file names carry letters a.. for index N.
    std::map<char, std::string> keywords;
    // Each Maildir++ folder keeps its own keyword list.
    if (fs::exists(dir / "dovecot-keywords")) {
        std::istringstream kin(read_file(dir / "dovecot-keywords"));
        while (std::getline(kin, line)) {
            auto sp = line.find(' ');
            if (sp == std::string::npos) continue;
            keywords[static_cast<char>('a' + std::stoi(line.substr(0, sp)))] = line.substr(sp + 1);
        }
    }
    std::map<std::uint32_t, message_info> out;
    for (const char* sub : {"cur", "new"}) {
        if (!fs::exists(dir / sub)) continue;
        for (const auto& e : fs::directory_iterator(dir / sub)) {
            std::string fname = e.path().filename().string();
            std::string base = fname.substr(0, fname.find(':'));
            auto it = uid_of.find(base);
            if (it == uid_of.end()) continue;
            message_info mi;
            mi.content = read_file(e.path());
            auto info = fname.find(":2,");
            if (info != std::string::npos) {
                for (char ch : fname.substr(info + 3)) {
                    switch (ch) {
                        case 'D': mi.flags.push_back("\\Draft"); break;
                        case 'F': mi.flags.push_back("\\Flagged"); break;
                        case 'R': mi.flags.push_back("\\Answered"); break;
                        case 'S': mi.flags.push_back("\\Seen"); break;
                        case 'T': mi.flags.push_back("\\Deleted"); break;
                        default:
                            if (keywords.count(ch)) mi.flags.push_back(keywords[ch]);
                    }
                }
            }
            std::sort(mi.flags.begin(), mi.flags.end());
            struct stat stbuf {};
            if (::stat(e.path().c_str(), &stbuf) == 0) mi.mtime = stbuf.st_mtime;
            out[it->second] = std::move(mi);
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
    std::vector<std::string> args = {"flags", dir_.path().string(), user,
                                     folder,  std::to_string(uid),  op};
    args.insert(args.end(), fl.begin(), fl.end());
    run_script(args);
}

void testbed::expunge(const std::string& user, const std::string& folder,
                      const std::vector<std::uint32_t>& uids) {
    std::vector<std::string> args = {"expunge", dir_.path().string(), user, folder};
    for (auto u : uids) args.push_back(std::to_string(u));
    run_script(args);
}

void testbed::set_uidvalidity(const std::string& user, const std::string& folder, std::uint32_t v) {
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
