#include "log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>

#include "mailvault/error.hpp"
#include "mailvault/trace.hpp"

namespace mv::cli {
namespace {

std::atomic<bool> progress_drawing{false};
bool level_from_command_line = false;

// stderr, message only; clears a progress line first.
class stderr_sink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t out;
        formatter_->format(msg, out);
        if (progress_drawing) std::fputs("\r\033[K", stderr);
        std::fwrite(out.data(), 1, out.size(), stderr);
    }
    void flush_() override { std::fflush(stderr); }
};

spdlog::level::level_enum to_spdlog(config::log_level l) {
    switch (l) {
        case config::log_level::trace: return spdlog::level::trace;
        case config::log_level::debug: return spdlog::level::debug;
        case config::log_level::info: return spdlog::level::info;
        case config::log_level::warn: return spdlog::level::warn;
        case config::log_level::error: return spdlog::level::err;
        case config::log_level::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

spdlog::level::level_enum parse_level(const std::string& s) {
    for (auto l : {config::log_level::trace, config::log_level::debug, config::log_level::info,
                   config::log_level::warn, config::log_level::error, config::log_level::off})
        if (s == config::to_string(l)) return to_spdlog(l);
    throw mv::failure(errc::usage, "--log-level '" + s +
                                       "' is not a level; use trace, debug, info, warn, error or "
                                       "off");
}

}  // namespace

void init_logging(std::vector<std::string>& args) {
    auto level = spdlog::level::info;
    std::string file;
    int verbose = 0;
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](const char* name) {
            if (a.size() > std::string(name).size() + 2 && a.rfind(std::string(name) + "=", 0) == 0)
                return a.substr(std::string(name).size() + 1);
            if (a != name) return std::string();
            if (i + 1 >= args.size())
                throw mv::failure(errc::usage, std::string(name) + " needs a value");
            return args[++i];
        };
        if (a == "-v" || a == "--verbose") {
            ++verbose;
        } else if (a == "-vv") {
            verbose += 2;
        } else if (a == "--log-level" || a.rfind("--log-level=", 0) == 0) {
            level = parse_level(value("--log-level"));
            level_from_command_line = true;
        } else if (a == "--log-file" || a.rfind("--log-file=", 0) == 0) {
            file = value("--log-file");
        } else if (a == "--trace" || a.rfind("--trace=", 0) == 0) {
            // Every IMAP/POP3 command and response, credentials and message data redacted.
            mv::trace::open(value("--trace"));
        } else {
            rest.push_back(a);
        }
    }
    args = std::move(rest);
    if (verbose > 0) {
        level = verbose > 1 ? spdlog::level::trace : spdlog::level::debug;
        level_from_command_line = true;
    }
    std::vector<spdlog::sink_ptr> sinks;
    auto err = std::make_shared<stderr_sink>();
    err->set_pattern("%v");
    sinks.push_back(err);
    if (!file.empty()) {
        // Created private whatever the umask: a log names accounts, hosts and folders.
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
            throw mv::failure(errc::io, "--log-file " + file + ": cannot open it for writing");
        ::fchmod(fd, 0600);
        ::close(fd);
        auto f = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, false);
        f->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l [%t] %v");
        sinks.push_back(f);
    }
    auto logger = std::make_shared<spdlog::logger>("mailvault", sinks.begin(), sinks.end());
    logger->set_level(level);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
}

void apply_config_log_level(config::log_level level) {
    if (!level_from_command_line) spdlog::set_level(to_spdlog(level));
}

void set_progress_line(bool drawing) {
    progress_drawing = drawing;
}

}  // namespace mv::cli
