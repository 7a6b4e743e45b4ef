// The trace file behind `--trace FILE` (mailvault/trace.hpp): one per process, lines from every
// connection interleaved, each with a UTC timestamp and the connection's number.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include "mailvault/error.hpp"
#include "mailvault/trace.hpp"

namespace mv::trace {
namespace {

std::mutex file_mutex;
int file_fd = -1;
std::atomic<int> next_id{0};

std::string now_utc() {
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    std::tm tm{};
    ::gmtime_r(&tv.tv_sec, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(tv.tv_usec / 1000));
    return std::string(buf) + ms;
}

void write_line(int id, std::string_view line) {
    std::string out = now_utc() + " c" + std::to_string(id) + " ";
    out.append(line);
    out += '\n';
    std::lock_guard lock(file_mutex);
    if (file_fd < 0) return;
    std::string_view rest = out;
    while (!rest.empty()) {
        ssize_t n = ::write(file_fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // a trace that cannot be written must not stop the work
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

// A redactor writing into the file, with an "open" line first.
std::unique_ptr<recorder> filed(const std::string& label,
                                std::unique_ptr<recorder> (*make)(line_out)) {
    if (!enabled()) return nullptr;
    const int id = ++next_id;
    write_line(id, "open " + label);
    return make([id](std::string_view line) { write_line(id, line); });
}

}  // namespace

void open(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        throw mv::failure(
            errc::io, "cannot open the trace file " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ::fchmod(fd, 0600) != 0) {
        ::close(fd);
        throw mv::failure(errc::io, "the trace file " + path.string() +
                                        " is not a regular file this user owns; choose another");
    }
    std::lock_guard lock(file_mutex);
    if (file_fd >= 0) ::close(file_fd);
    file_fd = fd;
}

bool enabled() {
    std::lock_guard lock(file_mutex);
    return file_fd >= 0;
}

std::unique_ptr<recorder> for_imap(const std::string& label) {
    return filed(label, &imap_redactor);
}

std::unique_ptr<recorder> for_pop3(const std::string& label) {
    return filed(label, &pop3_redactor);
}

}  // namespace mv::trace
