// Server<UDP, Aio> does not compile: the Aio policy serves stream transports.
#include "mpx/socketserver.hpp"

void make() { mpx::socketserver::Server<mpx::socketserver::UDP, mpx::socketserver::Aio> server({"127.0.0.1", 0}, {}); }
