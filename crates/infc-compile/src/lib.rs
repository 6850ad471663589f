//! Lowering IR to plan steps, liveness, arena offsets, weight prepacking
