"""infc: an ahead-of-time compiler for CPU inference of ONNX models.

    import infc, numpy as np
    infc.compile("model.onnx", "model.plan", shapes={"batch": 1, "sequence": 128}, int8=True)
    s = infc.Session("model.plan")
    logits, = s.run(None, {"input_ids": ids, "attention_mask": mask})
"""

from ._infc import InfcError, NodeArg, Session, compile

__all__ = ["InfcError", "NodeArg", "Session", "compile"]
