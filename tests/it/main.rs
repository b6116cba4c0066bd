//! eco's integration tests: the real binary, real sockets on 127.0.0.1
//! (port 0), and real peers (Python's socket module, nc) where a user
//! would use them. One test binary, so that it is built once.

mod bench;
mod cli;
mod client;
mod demo;
mod golden;
mod hardening;
mod labs;
mod labs_b;
mod operators;
mod pictures;
mod reliability;
mod run;
mod server;
mod support;
mod trace;
mod uring;
