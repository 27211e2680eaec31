// The ksn program (KSN_BINARY, which the including test defines) run as a child process
// with its stdin, stdout and stderr on pipes, under a deadline (scaled by time_scale(),
// tests/support/timing.hpp).
#pragma once

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/timing.hpp"

#ifndef KSN_BINARY
#error "KSN_BINARY must name the ksn executable"
#endif

extern char** environ;

namespace ksn::test {

// --- running ksn ------------------------------------------------------------------------

struct result {
    int status = -1;  ///< exit status, or 128 + signal when killed by one
    std::string out;
    std::string err;
    bool timed_out = false;
};

/// ksn running as a child process with its stdin, stdout and stderr on pipes.
class ksn_process {
  public:
    explicit ksn_process(const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {}, std::string input = {})
        : input_(std::move(input)) {
        int in[2], out[2], err[2];
        if (::pipe(in) != 0 || ::pipe(out) != 0 || ::pipe(err) != 0)
            throw std::runtime_error("pipe");
        // argv and envp are built before fork: the child only calls async-signal-safe code.
        std::vector<std::string> argv_s{KSN_BINARY};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> env_s;
        for (char** e = environ; *e != nullptr; ++e) {
            if (!std::string_view(*e).starts_with("KSN_PASSWORD=")) env_s.emplace_back(*e);
        }
        env_s.insert(env_s.end(), env.begin(), env.end());
        std::vector<char*> envp;
        for (auto& e : env_s)
            envp.push_back(e.data());
        envp.push_back(nullptr);

        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::dup2(in[0], 0);
            ::dup2(out[1], 1);
            ::dup2(err[1], 2);
            for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
                ::close(fd);
            ::execve(argv[0], argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(in[0]);
        ::close(out[1]);
        ::close(err[1]);
        in_ = in[1];
        out_ = out[0];
        err_ = err[0];
        if (input_.empty()) close_fd(in_);
    }
    ~ksn_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        for (int fd : {in_, out_, err_}) {
            if (fd >= 0) ::close(fd);
        }
    }
    ksn_process(const ksn_process&) = delete;
    ksn_process& operator=(const ksn_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    void signal(int sig) { ::kill(pid_, sig); }

    /// Feeds stdin, collects stdout and stderr until the process exits; kills it with
    /// SIGKILL when `limit` (scaled) passes first.
    result wait(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
        using namespace std::chrono_literals;
        result r;
        const auto deadline = std::chrono::steady_clock::now() + scaled(limit);
        std::size_t written = 0;
        ::signal(SIGPIPE, SIG_IGN);  // ksn may exit before reading all its input
        while (out_ >= 0 || err_ >= 0 || in_ >= 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms && !r.timed_out) {
                r.timed_out = true;
                ::kill(pid_, SIGKILL);
                close_fd(in_);
            }
            pollfd fds[3] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}, {in_, POLLOUT, 0}};
            if (::poll(fds, 3, static_cast<int>(std::max(left, 10ms).count())) < 0 &&
                errno != EINTR) {
                break;
            }
            drain(fds[0], out_, r.out);
            drain(fds[1], err_, r.err);
            if (in_ >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
                const auto n = ::write(in_, input_.data() + written,
                                       std::min<std::size_t>(input_.size() - written, 65536));
                if (n > 0) written += static_cast<std::size_t>(n);
                if (n < 0 || written == input_.size()) close_fd(in_);
            }
        }
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return r;
    }

  private:
    static void close_fd(int& fd) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    static void drain(const pollfd& p, int& fd, std::string& to) {
        if (fd < 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
        char buf[65536];
        const auto n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            to.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            close_fd(fd);
        }
    }

    pid_t pid_ = -1;
    int in_ = -1, out_ = -1, err_ = -1;
    std::string input_;
};

/// `seconds` scaled by time_scale(), for a ksn option that bounds a wait (--timeout on
/// a run that should end well before it), as the text ksn parses.
inline std::string scaled_seconds(int seconds) {
    return std::to_string(seconds * time_scale());
}

inline result run_ksn(const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {}, std::string input = {}) {
    ksn_process p(args, env, std::move(input));
    return p.wait();
}

inline std::string describe(const result& r) {
    return "status " + std::to_string(r.status) + (r.timed_out ? " (timed out)" : "") +
           "\nstdout:\n" + r.out + "stderr:\n" + r.err;
}

}  // namespace ksn::test
