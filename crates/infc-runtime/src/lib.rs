//! Plan loading (mmap + validation) and Session::run
