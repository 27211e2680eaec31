#include "protocol/value.hpp"

#include <utility>

namespace ksn::protocol {

void value_reader::reset() noexcept {
    parser_.reset();
    root_ = value{};
    open_.clear();
    for (auto& v : pending_attributes_)
        v = value{};
    has_pending_.fill(false);
}

parse_result value_reader::read(std::string_view input, value& out) {
    std::size_t total = 0;
    node n;
    for (;;) {
        const parse_result r = parser_.next(input.substr(total), n);
        total += r.consumed;
        if (r.status != parse_status::complete) return {r.status, total};

        value v;
        v.type = n.type;
        v.data.assign(n.data);
        v.format.assign(n.format);
        v.integer = n.integer;
        v.number = n.number;

        const std::uint32_t d = n.depth;
        open_.resize(d);  // aggregates deeper than this node are complete
        value* placed = nullptr;
        if (n.type == resp_type::attribute) {
            // Several attributes before one value: their pairs are kept in order.
            std::vector<value> earlier;
            if (has_pending_[d]) earlier = std::move(pending_attributes_[d].elements);
            pending_attributes_[d] = std::move(v);
            pending_attributes_[d].elements = std::move(earlier);
            has_pending_[d] = true;
            placed = &pending_attributes_[d];
        } else {
            if (has_pending_[d]) {
                v.attributes = std::move(pending_attributes_[d].elements);
                has_pending_[d] = false;
            }
            if (d == 0) {
                root_ = std::move(v);
                placed = &root_;
            } else {
                open_[d - 1]->elements.push_back(std::move(v));
                placed = &open_[d - 1]->elements.back();
            }
        }
        if (is_aggregate(n.type) && n.aggregate_size > 0) open_.push_back(placed);

        if (parser_.message_complete()) {
            out = std::move(root_);
            root_ = value{};
            open_.clear();
            return {parse_status::complete, total};
        }
    }
}

}  // namespace ksn::protocol
