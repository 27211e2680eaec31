// The io_context API: include this to run a notifier on an asio::io_context your service
// already runs (the constructors taking `asio::io_context&`, then the async_ calls).
// The other public headers only name asio::io_context; this one brings in standalone
// Asio's definition. Compile with the library's Asio configuration (ksn.pc and the CMake
// package give it: ASIO_STANDALONE, ASIO_DISABLE_STD_ALIGNED_ALLOC).
#pragma once

#include <asio/io_context.hpp>

#include "ksn.hpp"
