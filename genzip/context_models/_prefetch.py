"""A cache prefetch hint for numba kernels (LLVM's `llvm.prefetch`): it starts loading the
cache line of `arr[idx]` and changes no value, so results stay bit-identical with or without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:
    """`prefetch(arr, idx)`: hint that `arr[idx]` (a 1-d array, idx in bounds) is read soon."""
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0"
        )
        # read (0), keep in all cache levels (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


#: typed for callers: numba's intrinsic object takes the typing context itself
prefetch = cast(Callable[[np.ndarray, int], None], _prefetch)
