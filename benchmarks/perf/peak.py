"""The measured peak: a large fp32 matrix product compiled by XLA, the best dense arithmetic
this machine's JAX can do, against which CNN throughput is expressed as a fraction."""
from __future__ import annotations

from .workload import Workload, compiled_flops

#: Side of the square matrices: large enough that the product is compute-bound on a CPU.
DEFAULT_SIZE = 4096


def matmul_workload(n: int = DEFAULT_SIZE, seed: int = 0) -> Workload:
    """An ``n x n`` by ``n x n`` float32 product as a :class:`Workload` of one item.

    ``flops_per_item`` is ``2 n**3`` (a multiply and an add per term), the usual count; XLA's
    own estimate is kept in ``info["xla_flops"]`` for comparison.
    """
    import jax
    import jax.numpy as jnp

    ka, kb = jax.random.split(jax.random.PRNGKey(seed))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    compiled = jax.jit(jnp.matmul).lower(a, b).compile()

    def run():
        return compiled(a, b).block_until_ready()

    return Workload(run, items=1, flops_per_item=2.0 * n ** 3,
                    info={"n": n, "dtype": "float32", "xla_flops": compiled_flops(compiled)})
