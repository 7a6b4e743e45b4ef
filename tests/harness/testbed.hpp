// The Dovecot (or Cyrus IMAP) test bed, as a C++ RAII fixture over scripts/testbed.py.
//
// Flow: construct -> a private Dovecot (or, with server = cyrus, a private Cyrus IMAP 3.6) runs
// on free loopback ports with its own throwaway CA;
// the helpers put it in the states tests need (add, flags, expunge, new UIDVALIDITY, restart with
// capabilities removed); the destructor always stops it (also when a test fails), so no process
// is left behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mv::test {

// A fresh directory under $TMPDIR, removed (recursively) on destruction unless MV_KEEP_TMP is set.
class temp_dir {
public:
    explicit temp_dir(const std::string& prefix = "mailvault-test");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& p) const { return path_ / p; }

private:
    std::filesystem::path path_;
};

struct testbed_user {
    std::string name;
    std::string password;
    std::string seed_dir;  // optional: files below become messages (see scripts/testbed.py)
};

enum class server_kind { dovecot, cyrus };

struct testbed_options {
    std::vector<testbed_user> users{{"alice", "alice-secret", ""}};
    bool compress = true;
    std::vector<std::string> disabled_caps;
    server_kind server = server_kind::dovecot;
    // The personal namespace. Unset: the server's default -- Dovecot "" with "/", Cyrus (as
    // Debian configures it) "INBOX." with ".". Supported: "" or "INBOX" + separator, with "/"
    // or "." (Dovecot "INBOX." + "." is the Courier-style variant; Cyrus "" + "/" is its
    // altnamespace with unixhierarchysep).
    std::optional<std::string> ns_prefix;
    std::optional<char> separator;
    // Dovecot only: special-use folders created at login, {name (UTF-8, with the separator),
    // attribute such as "\\Sent"}; and a quota rule ("messages=10", "storage=64k") so APPEND
    // over it gets a real NO [OVERQUOTA].
    std::vector<std::pair<std::string, std::string>> special_use;
    std::optional<std::string> quota;
};

// Dovecot's INBOX. + . variant.
testbed_options dovecot_inbox_prefix_options(std::vector<testbed_user> users = {
                                                 {"alice", "alice-secret", ""}});
// Cyrus with Debian's namespace (INBOX. + .).
testbed_options cyrus_options(std::vector<testbed_user> users = {{"alice", "alice-secret", ""}});
// True when cyrmaster, imapd/pop3d (Debian's cyrus-imapd, unpacked by scripts/install-deps.sh into
// /opt/mailvault/cyrus because it conflicts with dovecot-imapd) and saslpasswd2 are there.
bool cyrus_available();

class testbed {
public:
    explicit testbed(testbed_options opts = {});
    ~testbed();
    testbed(const testbed&) = delete;
    testbed& operator=(const testbed&) = delete;

    server_kind kind() const { return kind_; }
    const std::string& ns_prefix() const { return ns_prefix_; }
    char separator() const { return separator_; }
    // A seed folder name ("INBOX", "Archive.2024" or "Archive/2024") as this server names it
    // over IMAP ("INBOX.Archive.2024" with prefix "INBOX." and separator ".").
    std::string folder_name(const std::string& seed_folder) const;

    std::uint16_t imap_port() const { return ports_.at("imap"); }
    std::uint16_t imaps_port() const { return ports_.at("imaps"); }
    std::uint16_t pop3_port() const { return ports_.at("pop3"); }
    std::uint16_t pop3s_port() const { return ports_.at("pop3s"); }
    std::string ca_file() const { return (dir_.path() / "tls/ca.crt").string(); }
    std::string other_ca_file() const { return (dir_.path() / "tls/other-ca.crt").string(); }
    std::string wrongname_cert() const { return (dir_.path() / "tls/wrongname.crt").string(); }
    std::filesystem::path maildir(const std::string& user) const;
    // The directory of one folder in the user's Maildir ("INBOX", "Archive/2024", ...).
    std::filesystem::path folder_dir(const std::string& user, const std::string& folder) const;
    const std::filesystem::path& dir() const { return dir_.path(); }

    // Every message file of a folder (cur/ and new/), keyed by Dovecot UID.
    std::map<std::uint32_t, std::string> messages(const std::string& user,
                                                  const std::string& folder) const;

    struct message_info {
        std::string content;
        std::vector<std::string> flags;  // sorted: system flags and keywords, from the file name
        std::int64_t mtime = 0;          // Dovecot's INTERNALDATE for Maildir
    };
    std::map<std::uint32_t, message_info> message_infos(const std::string& user,
                                                        const std::string& folder) const;
    std::uint32_t uidvalidity(const std::string& user, const std::string& folder) const;
    // The same, but what the server serves over IMAP (EXAMINE, UID FETCH FLAGS INTERNALDATE,
    // BODY.PEEK[]; \Recent left out), for any server. message_infos()/uidvalidity() read this for
    // Cyrus, whose spool is not to be read directly; for Dovecot they read the Maildir.
    struct served_folder {
        std::uint32_t uidvalidity = 0;
        std::map<std::uint32_t, message_info> messages;
    };
    served_folder served(const std::string& user, const std::string& folder) const;
    // Every folder LIST shows the user (decoded from modified UTF-7).
    std::vector<std::string> folders(const std::string& user) const;

    std::uint32_t add(const std::string& user, const std::string& folder, const std::string& file,
                      const std::string& flags = "");
    void flags(const std::string& user, const std::string& folder, std::uint32_t uid,
               const std::string& op, const std::vector<std::string>& flags);
    void expunge(const std::string& user, const std::string& folder,
                 const std::vector<std::uint32_t>& uids);
    void set_uidvalidity(const std::string& user, const std::string& folder, std::uint32_t v);
    void mkdir(const std::string& user, const std::string& folder);
    void restart(const std::vector<std::string>& disabled_caps, bool compress = true);

private:
    std::string run_script(const std::vector<std::string>& args) const;
    void read_ports(const std::string& json);

    temp_dir dir_;
    std::map<std::string, std::uint16_t> ports_;
    server_kind kind_ = server_kind::dovecot;
    std::string ns_prefix_;
    char separator_ = '/';
};

// Runs a command (argv, no shell), returns its exit status (128+signal if killed) with stdout
// and stderr. `env` entries are set in the child; an empty value unsets the variable.
struct run_result {
    int status = -1;
    std::string output;  // stdout
    std::string errors;  // stderr
};
run_result run_command(const std::vector<std::string>& argv, const std::string& stdin_data = "",
                       const std::map<std::string, std::string>& env = {});

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& data);

}  // namespace mv::test
