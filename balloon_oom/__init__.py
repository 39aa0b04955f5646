"""balloon-oom: did the hypervisor's memory balloon take the memory this guest ran out of?"""

__version__ = "0.1.0"
