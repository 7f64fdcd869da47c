// bench/aio/limit.cpp -> bench_aio_limit: the limit of the aio figures is
// bench/net's: a single-threaded C echo server straight on epoll (the same
// source, compiled here with its main() renamed), under the aio figure names.
#define main net_limit_main
#include "../net/limit_epoll_server.cpp"
#undef main

#include "drive.hpp"

int main(int argc, char** argv) { return aiobench::drive(argc, argv, serve_epoll_limit); }
