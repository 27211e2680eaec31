#include "net/connection.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <asio/connect.hpp>
#include <asio/post.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/write.hpp>
#include <utility>

namespace ksn::net {

std::string_view to_string(connection_state s) noexcept {
    switch (s) {
        case connection_state::connecting:
            return "connecting";
        case connection_state::handshaking:
            return "handshaking";
        case connection_state::ready:
            return "ready";
        case connection_state::disconnected:
            return "disconnected";
        case connection_state::closed:
            return "closed";
    }
    return "unknown";
}

namespace {
// Room asked of the read buffer before each read; reads take whatever is available.
constexpr std::size_t min_read = 16 * 1024;
}  // namespace

std::shared_ptr<connection> connection::create(asio::io_context& io, connection_options options,
                                               connection_observer* observer) {
    return std::shared_ptr<connection>(new connection(io, std::move(options), observer));
}

connection::connection(asio::io_context& io, connection_options options,
                       connection_observer* observer)
    : options_(std::move(options)),
      name_(options_.address.to_string()),
      observer_(observer),
      resolver_(io),
      socket_(io),
      unix_socket_(io),
      connect_timer_(io),
      session_timer_(io),
      reconnect_timer_(io),
      session_(options_),
      rbuf_(options_.read_buffer_size),
      backoff_(options_.reconnect) {}

connection::~connection() = default;

void connection::sink_adapter::on_message(const protocol::pubsub_frame& f, clock::time_point t) {
    if (c_.observer_) c_.observer_->on_message(f, t);
}
void connection::sink_adapter::on_confirmation(const protocol::pubsub_frame& f) {
    if (c_.observer_) c_.observer_->on_confirmation(f);
}
void connection::sink_adapter::on_push(const protocol::value& v) {
    if (c_.observer_) c_.observer_->on_push(v);
}

void connection::set_state(connection_state s, const std::error_code& ec,
                           const std::string& detail) {
    state_ = s;
    if (observer_) observer_->on_state(s, ec, detail);
}

void connection::start() {
    if (state_ != connection_state::disconnected || generation_ != 0) return;
    do_connect();
}

void connection::reset_transport() {
    ++generation_;
    std::error_code ignored;
    resolver_.cancel();
    tls_.reset();
    socket_.close(ignored);
    unix_socket_.close(ignored);
    connect_timer_.cancel();
    session_timer_.cancel();
    reconnect_timer_.cancel();
    armed_.reset();
    writing_ = false;
    reading_ = false;
    write_buf_.clear();
    rbuf_.clear();
}

bool connection::make_tls_context(std::string& why) {
    const tls_options& t = options_.tls;
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    std::error_code ec;
    const auto load = [&](const char* what, const std::string& file, auto&& fn) {
        if (file.empty() || ec) return;
        fn(file, ec);
        if (ec) why = std::string("cannot load ") + what + " " + file + ": " + ec.message();
    };
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1,
                     ec);
    if (t.ca_file.empty() && t.ca_dir.empty()) {
        ctx->set_default_verify_paths(ec);
        if (ec) why = "cannot load the system's trusted CAs: " + ec.message();
    }
    load("CA file", t.ca_file,
         [&](const std::string& f, std::error_code& e) { ctx->load_verify_file(f, e); });
    load("CA directory", t.ca_dir,
         [&](const std::string& f, std::error_code& e) { ctx->add_verify_path(f, e); });
    load("certificate", t.cert_file,
         [&](const std::string& f, std::error_code& e) { ctx->use_certificate_chain_file(f, e); });
    load("private key", t.key_file, [&](const std::string& f, std::error_code& e) {
        ctx->use_private_key_file(f, asio::ssl::context::pem, e);
    });
    if (ec) return false;
    if (t.cert_file.empty() != t.key_file.empty()) {
        why = "a client certificate needs both cert_file and key_file";
        return false;
    }
    tls_context_ = std::move(ctx);
    return true;
}

void connection::do_connect() {
    reset_transport();
    const auto gen = generation_;
    set_state(connection_state::connecting);
    if (state_ != connection_state::connecting) return;  // closed by the observer
    const endpoint& a = options_.address;
    if (a.is_unix() && options_.tls.enabled) {
        handle_error(make_error_code(errc::bad_address),
                     "TLS is not available on a Unix socket (Redis serves TLS on its TCP "
                     "tls-port only)");
        return;
    }
    if (a.is_unix() && a.socket_path.size() > endpoint::max_socket_path) {
        handle_error(make_error_code(errc::bad_address),
                     "the socket path is " + std::to_string(a.socket_path.size()) +
                         " bytes long; the system allows at most " +
                         std::to_string(endpoint::max_socket_path));
        return;
    }
    if (options_.tls.enabled && !tls_context_) {
        std::string why;
        if (!make_tls_context(why)) {
            handle_error(make_error_code(errc::tls_config), why);
            return;
        }
    }

    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this(), gen](const std::error_code& ec) {
        if (ec || gen != self->generation_ || self->state_ != connection_state::connecting) return;
        self->handle_error(make_error_code(errc::connect_timeout),
                           "no connection within " +
                               std::to_string(self->options_.connect_timeout.count()) + " ms");
    });
    if (a.is_unix()) {
        connect_unix(gen);
    } else {
        connect_tcp(gen);
    }
}

void connection::connect_unix(std::uint64_t gen) {
    unix_socket_.async_connect(asio::local::stream_protocol::endpoint(options_.address.socket_path),
                               [self = shared_from_this(), gen](const std::error_code& ec) {
                                   if (gen != self->generation_) return;
                                   if (ec) {
                                       self->handle_error(make_error_code(errc::connect_failed),
                                                          ec.message());
                                       return;
                                   }
                                   self->connect_timer_.cancel();
                                   self->start_session();
                               });
}

void connection::connect_tcp(std::uint64_t gen) {
    // A numeric address needs no resolver (Asio's resolves on a thread of its own).
    std::error_code not_numeric;
    const auto numeric = asio::ip::make_address(options_.address.host, not_numeric);
    if (!not_numeric) {
        socket_.async_connect(asio::ip::tcp::endpoint(numeric, options_.address.port),
                              [self = shared_from_this(), gen](const std::error_code& ec) {
                                  if (gen != self->generation_) return;
                                  if (ec) {
                                      self->handle_error(make_error_code(errc::connect_failed),
                                                         ec.message());
                                      return;
                                  }
                                  self->on_connected();
                              });
        return;
    }
    resolver_.async_resolve(
        options_.address.host, std::to_string(options_.address.port),
        [self = shared_from_this(), gen](const std::error_code& ec,
                                         const asio::ip::tcp::resolver::results_type& results) {
            if (gen != self->generation_) return;
            if (ec) {
                self->handle_error(make_error_code(errc::resolve_failed), ec.message());
                return;
            }
            asio::async_connect(
                self->socket_, results,
                [self, gen](const std::error_code& ec2, const asio::ip::tcp::endpoint&) {
                    if (gen != self->generation_) return;
                    if (ec2) {
                        self->handle_error(make_error_code(errc::connect_failed), ec2.message());
                        return;
                    }
                    self->on_connected();
                });
        });
}

void connection::on_connected() {
    std::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    if (!options_.tls.enabled) {
        connect_timer_.cancel();
        start_session();
        return;
    }
    // TLS handshake, still under the connect timeout.
    tls_ = std::make_shared<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
    const tls_options& t = options_.tls;
    const std::string& name = t.server_name.empty() ? options_.address.host : t.server_name;
    std::error_code not_ip;
    asio::ip::make_address(name, not_ip);
    if (not_ip) {
        // SNI is for names only (RFC 6066).
        SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
    }
    if (t.verify) {
        tls_->set_verify_mode(asio::ssl::verify_peer, ignored);
        tls_->set_verify_callback(asio::ssl::host_name_verification(name), ignored);
    } else {
        tls_->set_verify_mode(asio::ssl::verify_none, ignored);
    }
    tls_->async_handshake(
        asio::ssl::stream_base::client,
        [self = shared_from_this(), gen = generation_, stream = tls_](const std::error_code& ec) {
            if (gen != self->generation_) return;
            if (ec) {
                const long verify = SSL_get_verify_result(stream->native_handle());
                if (self->options_.tls.verify && verify != X509_V_OK) {
                    self->handle_error(make_error_code(errc::tls_verify_failed),
                                       X509_verify_cert_error_string(verify));
                } else {
                    self->handle_error(make_error_code(errc::tls_failed), ec.message());
                }
                return;
            }
            self->connect_timer_.cancel();
            self->start_session();
        });
}

void connection::start_session() {
    const auto gen = generation_;
    if (options_.credentials_provider) {
        // Asked on every attempt, so a rotated password or a fresh token is used.
        std::string failure;
        try {
            session_.set_credentials(options_.credentials_provider(options_.address));
        } catch (const std::exception& e) {
            failure = e.what();
        } catch (...) {
            failure = "it threw an exception that is not a std::exception";
        }
        if (!failure.empty()) {
            handle_error(make_error_code(errc::credentials_failed), failure);
            return;
        }
        if (gen != generation_) return;  // the callback closed the connection
    }
    session_.start(clock::now());
    set_state(connection_state::handshaking);
    if (gen != generation_ || state_ != connection_state::handshaking) return;
    // A forced RESP2 session without credentials is ready at once.
    after_session(session_state::handshaking);
    if (gen != generation_) return;
    do_read();
}

void connection::do_read() {
    if (reading_) return;
    reading_ = true;
    const auto room = rbuf_.writable(min_read);
    auto done = [self = shared_from_this(), gen = generation_](
                    const std::error_code& ec, std::size_t n) { self->on_read(gen, ec, n); };
    if (tls_) {
        tls_->async_read_some(asio::buffer(room.data(), room.size()),
                              [done = std::move(done), stream = tls_](
                                  const std::error_code& ec, std::size_t n) { done(ec, n); });
    } else if (options_.address.is_unix()) {
        unix_socket_.async_read_some(asio::buffer(room.data(), room.size()), std::move(done));
    } else {
        socket_.async_read_some(asio::buffer(room.data(), room.size()), std::move(done));
    }
}

void connection::on_read(std::uint64_t gen, const std::error_code& ec, std::size_t n) {
    if (gen != generation_) return;
    reading_ = false;
    // A TLS peer that closes without close_notify reads as stream_truncated.
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
        handle_error(make_error_code(errc::closed_by_peer), {});
        return;
    }
    // A server that closes a connection whose input it has not read (a re-check or PING
    // still in its buffer when it cuts a slow subscriber off) resets it instead.
    if (ec == asio::error::connection_reset) {
        handle_error(make_error_code(errc::closed_by_peer), ec.message());
        return;
    }
    if (ec) {
        handle_error(make_error_code(errc::connection_lost), ec.message());
        return;
    }
    rbuf_.commit(n);
    counters_.bytes_read += n;
    const auto before = session_.state();
    const std::size_t used = session_.feed(rbuf_.readable(), clock::now(), sink_);
    if (gen != generation_) return;  // closed or reset by a callback
    rbuf_.consume(used);
    after_session(before);
    if (gen == generation_) do_read();
}

void connection::after_session(session_state before) {
    const auto gen = generation_;
    const auto now = session_.state();
    if (now == session_state::failed) {
        if (session_.error() == errc::protocol_error) ++counters_.protocol_errors;
        handle_error(session_.error(), session_.error_detail());
        return;
    }
    if (before == session_state::handshaking && now == session_state::ready) {
        backoff_.reset();
        ++counters_.connects;
        set_state(connection_state::ready);
        if (gen != generation_ || state_ != connection_state::ready) return;
    }
    flush();
    arm_timer();
}

void connection::flush() {
    if (writing_ ||
        (state_ != connection_state::handshaking && state_ != connection_state::ready)) {
        return;
    }
    if (!session_.take_output(write_buf_)) return;
    writing_ = true;
    auto done = [self = shared_from_this(), gen = generation_](
                    const std::error_code& ec, std::size_t) { self->on_written(gen, ec); };
    if (tls_) {
        asio::async_write(*tls_, asio::buffer(write_buf_),
                          [done = std::move(done), stream = tls_](const std::error_code& ec,
                                                                  std::size_t n) { done(ec, n); });
    } else if (options_.address.is_unix()) {
        asio::async_write(unix_socket_, asio::buffer(write_buf_), std::move(done));
    } else {
        asio::async_write(socket_, asio::buffer(write_buf_), std::move(done));
    }
}

void connection::on_written(std::uint64_t gen, const std::error_code& ec) {
    if (gen != generation_) return;
    writing_ = false;
    write_buf_.clear();
    if (ec) {
        handle_error(make_error_code(errc::connection_lost), ec.message());
        return;
    }
    flush();
}

void connection::arm_timer() {
    const auto deadline = session_.next_deadline();
    if (deadline == armed_) return;
    armed_ = deadline;
    if (!deadline) {
        session_timer_.cancel();
        return;
    }
    session_timer_.expires_at(*deadline);
    session_timer_.async_wait(
        [self = shared_from_this(), gen = generation_](const std::error_code& ec) {
            if (ec || gen != self->generation_) return;
            self->armed_.reset();
            const auto before = self->session_.state();
            self->session_.on_timer(clock::now());
            self->after_session(before);
        });
}

void connection::handle_error(const std::error_code& ec, const std::string& detail) {
    if (state_ == connection_state::closed) return;
    reset_transport();
    ++counters_.disconnects;
    std::string sentence = name_ + ": " + ec.message();
    if (!detail.empty()) sentence += ": " + detail;
    session_.abandon(ec);
    if (state_ == connection_state::closed) return;  // a reply handler closed us
    // Retrying the same credentials, certificates or address cannot succeed; a credentials
    // callback may answer differently next time (a token refreshed meanwhile).
    const bool same_credentials = !options_.credentials_provider;
    if ((ec == errc::auth_failed && same_credentials) || ec == errc::tls_config ||
        ec == errc::tls_verify_failed || ec == errc::bad_address) {
        set_state(connection_state::closed, ec, sentence);
        observer_ = nullptr;
        return;
    }
    set_state(connection_state::disconnected, ec, sentence);
    if (state_ != connection_state::disconnected) return;
    if (backoff_.exhausted()) {
        set_state(connection_state::closed, make_error_code(errc::reconnect_exhausted),
                  name_ + ": gave up after " + std::to_string(backoff_.attempts()) +
                      (backoff_.attempts() == 1 ? " reconnect attempt" : " reconnect attempts") +
                      "; last error: " + sentence);
        observer_ = nullptr;
        return;
    }
    const auto now = clock::now();
    if (backoff_.attempts() == 0) down_since_ = now;
    reconnect_timer_.expires_after(
        backoff_.next(std::chrono::duration_cast<std::chrono::milliseconds>(now - down_since_)));
    reconnect_timer_.async_wait(
        [self = shared_from_this(), gen = generation_](const std::error_code& e) {
            if (e || gen != self->generation_ || self->state_ != connection_state::disconnected) {
                return;
            }
            self->do_connect();
        });
}

void connection::close() {
    if (state_ == connection_state::closed) return;
    reset_transport();
    state_ = connection_state::closed;
    session_.abandon(make_error_code(errc::closed));
    if (observer_)
        observer_->on_state(connection_state::closed, make_error_code(errc::closed),
                            name_ + ": closed");
    observer_ = nullptr;
}

void connection::command(std::span<const std::string_view> args, reply_handler handler) {
    session_.command(args, std::move(handler));
    flush();
    arm_timer();
}

void connection::ping_soon() {
    if (state_ != connection_state::ready) return;
    session_.ping_soon(clock::now());
    flush();
    arm_timer();
}

void connection::subscribe_command(std::span<const std::string_view> args, reply_handler on_error) {
    session_.subscribe_command(args, std::move(on_error));
    flush();
    arm_timer();
}

}  // namespace ksn::net
