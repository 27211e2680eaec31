// Everything a user of ksn needs: the standalone, cluster and Sentinel notifiers, the
// notification model, channels and flags. No Asio and no OpenSSL: running a notifier on
// an asio::io_context of your own takes <ksn/io_context.hpp> as well.
#pragma once

#include "cluster/cluster_keyspace_notifications.hpp"
#include "cluster/slot.hpp"
#include "notifications/channel.hpp"
#include "notifications/delivery.hpp"
#include "notifications/event.hpp"
#include "notifications/flags.hpp"
#include "notifications/glob.hpp"
#include "notifications/keyspace_notifications.hpp"
#include "notifications/notification.hpp"
#include "sentinel/sentinel_keyspace_notifications.hpp"
