#include "harness/smtpbed.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mv::test {

namespace {

std::string script_path() {
    return std::string(MV_SOURCE_DIR) + "/scripts/smtpbed.py";
}

}  // namespace

bool smtpbed::available() {
    return ::geteuid() == 0 && (fs::exists("/usr/sbin/postfix") || fs::exists("/usr/bin/postfix"));
}

smtpbed::smtpbed(const testbed& imap, std::vector<std::pair<std::string, std::string>> users,
                 std::vector<std::string> mailboxes)
    : dir_("mailvault-smtpbed") {
    auto tb = nlohmann::json::parse(read_file(imap.dir() / "testbed.json"));
    if (!tb.at("ports").contains("lmtp"))
        throw std::runtime_error(
            "smtpbed: the Dovecot test bed has no LMTP listener "
            "(install dovecot-lmtpd: scripts/install-deps.sh --test)");
    std::vector<std::string> args = {"start", dir_.path().string(), "--lmtp",
                                     std::to_string(tb["ports"]["lmtp"].get<int>())};
    for (const auto& [u, p] : users) {
        args.push_back("--user");
        args.push_back(u + ":" + p);
    }
    for (const auto& m : mailboxes) {
        args.push_back("--mailbox");
        args.push_back(m);
    }
    auto j = nlohmann::json::parse(run_script(args));
    submission_ = j.at("ports").at("submission").get<std::uint16_t>();
    smtps_ = j.at("ports").at("smtps").get<std::uint16_t>();
    plain_ = j.at("ports").at("plain").get<std::uint16_t>();
    mx_ = j.at("ports").at("mx").get<std::uint16_t>();
}

smtpbed::~smtpbed() {
    try {
        run_script({"stop", dir_.path().string()});
    } catch (...) {
        // Never throw from a destructor.
    }
}

void smtpbed::rcpt(const std::string& address, const std::string& answer) {
    run_script({"rcpt", dir_.path().string(), address, answer});
}

std::string smtpbed::run_script(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"python3", script_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    if (r.status != 0)
        throw std::runtime_error("smtpbed.py " + args[0] + ": " + r.output + r.errors);
    return r.output;
}

}  // namespace mv::test
