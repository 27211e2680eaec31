// Event names of keyspace notifications, as std::string_view constants.
//
// Events are an open set: the parser accepts any non-empty name, and a new server
// version or a module may publish names not listed here. The constants cover the
// reference's EventType list and the names the server's sources publish (notify.c
// callers in t_*.c, db.c, expire.c, evict.c), including hash field expiry and the
// newer key lifecycle events. Names that are C++ keywords take a trailing underscore
// (new_). The reference lists a few names the server never publishes under that name
// (e.g. `setex`: SETEX publishes "set" and "expire"); they are kept for parity and marked.
//
// event_class() maps a known name to its notify-keyspace-events class (see flags.hpp).
#pragma once

#include <array>
#include <string_view>

#include "flags.hpp"

namespace ksn::event {

// Generic (g)
inline constexpr std::string_view del = "del";
inline constexpr std::string_view unlink = "unlink";  ///< reference only: UNLINK publishes "del"
inline constexpr std::string_view rename = "rename";  ///< reference only: RENAME publishes rename_*
inline constexpr std::string_view rename_from = "rename_from";
inline constexpr std::string_view rename_to = "rename_to";
inline constexpr std::string_view copy_to = "copy_to";
inline constexpr std::string_view move = "move";  ///< reference only: MOVE publishes move_*
inline constexpr std::string_view move_from = "move_from";
inline constexpr std::string_view move_to = "move_to";
inline constexpr std::string_view restore = "restore";
inline constexpr std::string_view expire = "expire";
inline constexpr std::string_view expireat = "expireat";    ///< reference only
inline constexpr std::string_view pexpire = "pexpire";      ///< reference only
inline constexpr std::string_view pexpireat = "pexpireat";  ///< reference only
inline constexpr std::string_view persist = "persist";
inline constexpr std::string_view sortstore = "sortstore";
inline constexpr std::string_view getdel = "getdel";  ///< reference only: GETDEL publishes "del"
inline constexpr std::string_view getex = "getex";    ///< reference only

// Expired (x), evicted (e)
inline constexpr std::string_view expired = "expired";
inline constexpr std::string_view evicted = "evicted";

// Strings ($)
inline constexpr std::string_view set = "set";
inline constexpr std::string_view setex = "setex";  ///< reference only: SETEX publishes "set"
inline constexpr std::string_view setnx = "setnx";  ///< reference only: SETNX publishes "set"
inline constexpr std::string_view setrange = "setrange";
inline constexpr std::string_view incr = "incr";  ///< reference only: INCR publishes "incrby"
inline constexpr std::string_view incrby = "incrby";
inline constexpr std::string_view incrbyfloat = "incrbyfloat";
inline constexpr std::string_view decr = "decr";      ///< reference only
inline constexpr std::string_view decrby = "decrby";  ///< reference only
inline constexpr std::string_view append = "append";
inline constexpr std::string_view setifgt = "setifgt";  ///< reference list
inline constexpr std::string_view setiflt = "setiflt";  ///< reference list
inline constexpr std::string_view setifeq = "setifeq";  ///< reference list
inline constexpr std::string_view setifne = "setifne";  ///< reference list

// Lists (l)
inline constexpr std::string_view lpush = "lpush";
inline constexpr std::string_view rpush = "rpush";
inline constexpr std::string_view lpop = "lpop";
inline constexpr std::string_view rpop = "rpop";
inline constexpr std::string_view linsert = "linsert";
inline constexpr std::string_view lset = "lset";
inline constexpr std::string_view lrem = "lrem";
inline constexpr std::string_view ltrim = "ltrim";
inline constexpr std::string_view lmove = "lmove";  ///< reference only: LMOVE publishes pops/pushes
inline constexpr std::string_view blpop = "blpop";  ///< reference only
inline constexpr std::string_view brpop = "brpop";  ///< reference only
inline constexpr std::string_view blmove = "blmove";  ///< reference only

// Sets (s)
inline constexpr std::string_view sadd = "sadd";
inline constexpr std::string_view srem = "srem";
inline constexpr std::string_view spop = "spop";
inline constexpr std::string_view smove = "smove";  ///< reference only: SMOVE publishes srem/sadd
inline constexpr std::string_view sinterstore = "sinterstore";
inline constexpr std::string_view sunionstore = "sunionstore";
inline constexpr std::string_view sdiffstore = "sdiffstore";

// Sorted sets (z)
inline constexpr std::string_view zadd = "zadd";
inline constexpr std::string_view zincr = "zincr";
inline constexpr std::string_view zincrby = "zincrby";  ///< reference only: ZINCRBY publishes zincr
inline constexpr std::string_view zrem = "zrem";
inline constexpr std::string_view zremrangebyrank = "zremrangebyrank";
inline constexpr std::string_view zremrangebyscore = "zremrangebyscore";
inline constexpr std::string_view zremrangebylex = "zremrangebylex";
inline constexpr std::string_view zpopmin = "zpopmin";
inline constexpr std::string_view zpopmax = "zpopmax";
inline constexpr std::string_view bzpopmin = "bzpopmin";  ///< reference only
inline constexpr std::string_view bzpopmax = "bzpopmax";  ///< reference only
inline constexpr std::string_view zinterstore = "zinterstore";
inline constexpr std::string_view zunionstore = "zunionstore";
inline constexpr std::string_view zdiffstore = "zdiffstore";
inline constexpr std::string_view zrangestore = "zrangestore";

// Hashes (h); hash field events also reach the subkey channels (S, T, I, V)
inline constexpr std::string_view hset = "hset";
inline constexpr std::string_view hsetnx = "hsetnx";  ///< reference only: HSETNX publishes "hset"
inline constexpr std::string_view hdel = "hdel";
inline constexpr std::string_view hincrby = "hincrby";
inline constexpr std::string_view hincrbyfloat = "hincrbyfloat";
inline constexpr std::string_view hexpire = "hexpire";
inline constexpr std::string_view hexpired = "hexpired";
inline constexpr std::string_view hpersist = "hpersist";

// Streams (t)
inline constexpr std::string_view xadd = "xadd";
inline constexpr std::string_view xtrim = "xtrim";
inline constexpr std::string_view xdel = "xdel";
inline constexpr std::string_view xgroup_create = "xgroup-create";
inline constexpr std::string_view xgroup_createconsumer = "xgroup-createconsumer";
inline constexpr std::string_view xgroup_delconsumer = "xgroup-delconsumer";
inline constexpr std::string_view xgroup_destroy = "xgroup-destroy";
inline constexpr std::string_view xgroup_setid = "xgroup-setid";
inline constexpr std::string_view xsetid = "xsetid";
inline constexpr std::string_view xclaim = "xclaim";          ///< reference list
inline constexpr std::string_view xautoclaim = "xautoclaim";  ///< reference list
inline constexpr std::string_view xreadgroup = "xreadgroup";  ///< reference list

// Key lifecycle, each in its own class outside A
inline constexpr std::string_view new_ = "new";                   ///< n
inline constexpr std::string_view keymiss = "keymiss";            ///< m
inline constexpr std::string_view overwritten = "overwritten";    ///< o
inline constexpr std::string_view type_changed = "type_changed";  ///< c

/// A known event name and its notify-keyspace-events class.
struct info {
    std::string_view name;
    notify_flags event_class;
};

/// Every constant above with its class, in the order above.
inline constexpr std::array known = {
    info{del, notify_flags::generic},
    info{unlink, notify_flags::generic},
    info{rename, notify_flags::generic},
    info{rename_from, notify_flags::generic},
    info{rename_to, notify_flags::generic},
    info{copy_to, notify_flags::generic},
    info{move, notify_flags::generic},
    info{move_from, notify_flags::generic},
    info{move_to, notify_flags::generic},
    info{restore, notify_flags::generic},
    info{expire, notify_flags::generic},
    info{expireat, notify_flags::generic},
    info{pexpire, notify_flags::generic},
    info{pexpireat, notify_flags::generic},
    info{persist, notify_flags::generic},
    info{sortstore, notify_flags::generic},
    info{getdel, notify_flags::generic},
    info{getex, notify_flags::generic},
    info{expired, notify_flags::expired},
    info{evicted, notify_flags::evicted},
    info{set, notify_flags::string},
    info{setex, notify_flags::string},
    info{setnx, notify_flags::string},
    info{setrange, notify_flags::string},
    info{incr, notify_flags::string},
    info{incrby, notify_flags::string},
    info{incrbyfloat, notify_flags::string},
    info{decr, notify_flags::string},
    info{decrby, notify_flags::string},
    info{append, notify_flags::string},
    info{setifgt, notify_flags::string},
    info{setiflt, notify_flags::string},
    info{setifeq, notify_flags::string},
    info{setifne, notify_flags::string},
    info{lpush, notify_flags::list},
    info{rpush, notify_flags::list},
    info{lpop, notify_flags::list},
    info{rpop, notify_flags::list},
    info{linsert, notify_flags::list},
    info{lset, notify_flags::list},
    info{lrem, notify_flags::list},
    info{ltrim, notify_flags::list},
    info{lmove, notify_flags::list},
    info{blpop, notify_flags::list},
    info{brpop, notify_flags::list},
    info{blmove, notify_flags::list},
    info{sadd, notify_flags::set},
    info{srem, notify_flags::set},
    info{spop, notify_flags::set},
    info{smove, notify_flags::set},
    info{sinterstore, notify_flags::set},
    info{sunionstore, notify_flags::set},
    info{sdiffstore, notify_flags::set},
    info{zadd, notify_flags::zset},
    info{zincr, notify_flags::zset},
    info{zincrby, notify_flags::zset},
    info{zrem, notify_flags::zset},
    info{zremrangebyrank, notify_flags::zset},
    info{zremrangebyscore, notify_flags::zset},
    info{zremrangebylex, notify_flags::zset},
    info{zpopmin, notify_flags::zset},
    info{zpopmax, notify_flags::zset},
    info{bzpopmin, notify_flags::zset},
    info{bzpopmax, notify_flags::zset},
    info{zinterstore, notify_flags::zset},
    info{zunionstore, notify_flags::zset},
    info{zdiffstore, notify_flags::zset},
    info{zrangestore, notify_flags::zset},
    info{hset, notify_flags::hash},
    info{hsetnx, notify_flags::hash},
    info{hdel, notify_flags::hash},
    info{hincrby, notify_flags::hash},
    info{hincrbyfloat, notify_flags::hash},
    info{hexpire, notify_flags::hash},
    info{hexpired, notify_flags::hash},
    info{hpersist, notify_flags::hash},
    info{xadd, notify_flags::stream},
    info{xtrim, notify_flags::stream},
    info{xdel, notify_flags::stream},
    info{xgroup_create, notify_flags::stream},
    info{xgroup_createconsumer, notify_flags::stream},
    info{xgroup_delconsumer, notify_flags::stream},
    info{xgroup_destroy, notify_flags::stream},
    info{xgroup_setid, notify_flags::stream},
    info{xsetid, notify_flags::stream},
    info{xclaim, notify_flags::stream},
    info{xautoclaim, notify_flags::stream},
    info{xreadgroup, notify_flags::stream},
    info{new_, notify_flags::new_key},
    info{keymiss, notify_flags::key_miss},
    info{overwritten, notify_flags::overwritten},
    info{type_changed, notify_flags::type_changed},
};

}  // namespace ksn::event

namespace ksn {

/// The notify-keyspace-events class of a known event name (one flag), or none for a
/// name ksn does not know. Byte comparison: "SET" is not "set".
[[nodiscard]] notify_flags event_class(std::string_view event) noexcept;

}  // namespace ksn
