//! Naive, obviously-correct interpreter over infc IR: the oracle for every optimised path
