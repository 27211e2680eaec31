// The connection's read buffer: one contiguous block that the socket reads into and
// the parser reads in place, so bytes are never copied between socket and handler.
//
// Consumed bytes are dropped by moving an index, not data. Data moves only when the
// socket needs room at the end of the block and an incomplete frame sits in the middle:
// that tail (less than one frame) is moved to the front, once per buffer fill, never per
// message. A frame larger than the block grows the block (doubling).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace ksn::net {

class read_buffer {
  public:
    explicit read_buffer(std::size_t capacity = 64 * 1024)
        : data_(std::make_unique<char[]>(capacity)), capacity_(capacity) {}

    /// Bytes received and not yet consumed.
    std::string_view readable() const noexcept { return {data_.get() + begin_, end_ - begin_}; }

    /// Room for the next read, at least `min_free` bytes (compacting or growing first).
    std::span<char> writable(std::size_t min_free = 4096) {
        if (capacity_ - end_ < min_free) {
            const std::size_t used = end_ - begin_;
            if (capacity_ - used < min_free || used > capacity_ / 2) {
                grow(std::max(capacity_ * 2, used + min_free));
            } else {
                std::memmove(data_.get(), data_.get() + begin_, used);
                begin_ = 0;
                end_ = used;
                ++compactions_;
            }
        }
        return {data_.get() + end_, capacity_ - end_};
    }

    /// `n` bytes were written into writable().
    void commit(std::size_t n) noexcept { end_ += n; }

    /// `n` bytes of readable() were consumed.
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;  // empty: start over at the front, for free
    }

    void clear() noexcept { begin_ = end_ = 0; }
    std::size_t capacity() const noexcept { return capacity_; }
    /// How many times a partial frame was moved to the front.
    std::size_t compactions() const noexcept { return compactions_; }

  private:
    void grow(std::size_t capacity) {
        auto bigger = std::make_unique<char[]>(capacity);
        std::memcpy(bigger.get(), data_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
        data_ = std::move(bigger);
        capacity_ = capacity;
    }

    std::unique_ptr<char[]> data_;
    std::size_t capacity_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t compactions_ = 0;
};

}  // namespace ksn::net
