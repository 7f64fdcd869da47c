// bench/socketserver/limit.cpp -> bench_socketserver_limit: the limit of the
// socketserver figures is bench/net's single-threaded C epoll echo server
// (the same source, its main() renamed), under these figures' names.
#define main net_limit_main
#include "../net/limit_epoll_server.cpp"
#undef main

#include "drive.hpp"

int main(int argc, char** argv) { return sockserverbench::drive(argc, argv, serve_epoll_limit); }
