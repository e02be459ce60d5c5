// Plain Verilog testbench (no cocotb, no VPI) for a float operator written by
// `hwgen generate fmul|fadd|ffma ...`. It drives only the documented ports of the top module
// and checks y and flags against golden vectors read with $readmemh. Runs on Icarus Verilog
// and on Verilator (--binary --timing).
//
// Compile-time defines (-D):
//   DUT        the top module name printed by `hwgen generate`
//   WA WB WY   widths of a, b and y;  WC width of c (with HAS_C)
//   HAS_C      the DUT has an operand c (ffma)
//   HAS_RM     the DUT has the 3-bit rounding-mode input rm (--rounding dynamic)
//   NO_FLAGS   the DUT has no flags output (--no-flags): the testbench reads its flags as 0,
//              and the vectors' flags fields are 0
//   LATENCY    pipeline stages (default 0); with LATENCY > 0 also define CLOCKED:
//              the DUT then has clk, rst, in_valid and out_valid
//   NMAX       capacity of the vector memory
// Run-time plusargs: +vectors=FILE (one hex word per line) +n=N (vectors in FILE).
//
// A vector word, from the most significant field down:
//   rm[2:0], c[WC-1:0] (a 1-bit 0 without HAS_C), b, a, flags[3:0], y
// Combinational DUTs get one vector per 1 ns; pipelined ones one per clock under a
// pseudo-random in_valid pattern, and every result must appear exactly LATENCY cycles after
// its operands, in order. The last line is "PASS" or "FAIL" after a line
// "plain_float_tb: N vectors checked, M mismatches, E protocol errors".
`timescale 1ns/1ps

`ifndef HAS_C
`define WC 1
`endif
`ifndef LATENCY
`define LATENCY 0
`endif

module plain_float_tb;
  localparam WA = `WA, WB = `WB, WC = `WC, WY = `WY, LAT = `LATENCY, NMAX = `NMAX;
  localparam WIN = 3 + WC + WB + WA;         // operand part of a vector word
  localparam W = WIN + 4 + WY;

  reg [W-1:0] vec [0:NMAX-1];
  reg [8*1024-1:0] path;
  integer n, checked, bad, errors;

  reg [WA-1:0] a = 0;
  reg [WB-1:0] b = 0;
  reg [WC-1:0] c = 0;
  reg [2:0] rm = 0;
  wire [WY-1:0] y;
  wire [3:0] flags;

  task apply(input integer k);
    {rm, c, b, a} = vec[k][W-1 -: WIN];
  endtask

  // Every input bit changes once before the first vector: simulators evaluate an
  // `always @*` block only on a change of its inputs, not at time 0.
  task wake;
    {rm, c, b, a} = ~vec[0][W-1 -: WIN];
  endtask

  // Compare the DUT's outputs with vector k.
  task check(input integer k);
    reg [WY-1:0] want_y;
    reg [3:0] want_f;
    begin
      {want_f, want_y} = vec[k][4+WY-1:0];
      checked = checked + 1;
      if (y !== want_y || flags !== want_f) begin
        bad = bad + 1;
        if (bad <= 5)
          $display("mismatch %0d: a=%h b=%h c=%h rm=%0d: got y=%h flags=%b, expected y=%h flags=%b",
                   k, vec[k][WA+4+WY-1 -: WA], vec[k][WB+WA+4+WY-1 -: WB],
                   vec[k][WC+WB+WA+4+WY-1 -: WC], vec[k][W-1 -: 3], y, flags, want_y, want_f);
      end
    end
  endtask

  task finish;
    begin
      $display("plain_float_tb: %0d vectors checked, %0d mismatches, %0d protocol errors",
               checked, bad, errors);
      if (bad == 0 && errors == 0 && checked == n) $display("PASS");
      else $display("FAIL");
      $finish;
    end
  endtask

  initial begin
    checked = 0; bad = 0; errors = 0;
    if (!$value$plusargs("vectors=%s", path) || !$value$plusargs("n=%d", n)) begin
      $display("usage: +vectors=FILE +n=N");
      $display("FAIL");
      $finish;
    end
    if (n < 1 || n > NMAX) begin
      $display("n=%0d: must be from 1 to NMAX=%0d", n, NMAX);
      $display("FAIL");
      $finish;
    end
    $readmemh(path, vec, 0, n - 1);
  end

`ifdef HAS_C
  `define C_PORT .c(c),
`else
  `define C_PORT
`endif
`ifdef HAS_RM
  `define RM_PORT .rm(rm),
`else
  `define RM_PORT
`endif
`ifdef NO_FLAGS
  assign flags = 4'b0000;
  `define FLAGS_PORT
`else
  `define FLAGS_PORT , .flags(flags)
`endif

`ifndef CLOCKED
  `DUT dut (.a(a), .b(b), `C_PORT `RM_PORT .y(y) `FLAGS_PORT);

  integer i;
  initial begin
    #1 wake;
    #1;
    for (i = 0; i < n; i = i + 1) begin
      apply(i);
      #1;
      check(i);
    end
    finish;
  end
`else
  reg clk = 0, rst = 0, in_valid = 0;
  wire out_valid;
  `DUT dut (.clk(clk), .rst(rst), .in_valid(in_valid), .a(a), .b(b), `C_PORT `RM_PORT
            .y(y) `FLAGS_PORT, .out_valid(out_valid));

  always #5 clk = ~clk;

  integer cycle = 0, issued = 0, done = 0;
  reg [15:0] lfsr = 16'hACE1;
  integer issue_cycle [0:NMAX-1];
  always @(posedge clk) cycle <= cycle + 1;

  // Inputs change and outputs are sampled at the falling edge, away from the active edge.
  // The synchronous reset rises at 1 ns (an event, like the inputs) and is held for 2 cycles.
  initial begin
    #1 rst = 1;
    wake;
    repeat (2) @(negedge clk);
    rst = 0;
    while (done < n) begin
      @(negedge clk);
      if (out_valid === 1'b1) begin
        if (done >= issued) begin
          errors = errors + 1;
          $display("out_valid at cycle %0d with nothing in flight", cycle);
        end else begin
          if (cycle - issue_cycle[done] != LAT) begin
            errors = errors + 1;
            if (errors <= 5)
              $display("vector %0d came out after %0d cycles, not %0d", done,
                       cycle - issue_cycle[done], LAT);
          end
          check(done);
          done = done + 1;
        end
      end else if (out_valid !== 1'b0) begin
        errors = errors + 1;
        $display("out_valid is %b at cycle %0d", out_valid, cycle);
      end
      if (issued > done && cycle - issue_cycle[done] > LAT) begin
        errors = errors + 1;
        $display("vector %0d lost: no out_valid %0d cycles after it", done, LAT);
        finish;
      end
      // About three cycles in four carry a vector; the others carry stale operands.
      lfsr = {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};
      if (issued < n && lfsr[1:0] != 2'b00) begin
        apply(issued);
        issue_cycle[issued] = cycle;
        issued = issued + 1;
        in_valid = 1;
      end else begin
        in_valid = 0;
      end
    end
    repeat (LAT + 2) begin
      @(negedge clk);
      if (out_valid !== 1'b0) begin
        errors = errors + 1;
        $display("out_valid is %b at cycle %0d after the last result", out_valid, cycle);
      end
    end
    finish;
  end
`endif

endmodule
