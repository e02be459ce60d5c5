// Plain Verilog testbench (no cocotb, no VPI) for a stream unit written by `hwgen generate`
// (valid/ready streams `i` and `o`, e.g. `hwgen generate mxdot`): it drives the input beats
// read with $readmemh under a pseudo-random idle pattern, stalls the output at random, and
// checks every output payload, in order, against the expected words. Verilator (--binary
// --timing) or Icarus Verilog.
//
// Compile-time defines (-D):
//   DUT      the top module name printed by `hwgen generate`
//   WI WO    widths of i__payload and o__payload
//   HAS_RM   the DUT has the 3-bit side input rm, driven with each beat (top 3 bits of a beat
//            word)
//   NBMAX    capacity of the beat memory;  NRMAX  capacity of the expected-result memory
// Run-time plusargs: +beats=FILE +nb=N (beats in FILE) +expect=FILE +nr=N (results in FILE)
//   +idle=P +stall=P (percent of cycles the source idles / the sink stalls) +seed=S
//
// The last lines are "plain_stream_tb: N results checked, M mismatches, E protocol errors"
// and "PASS" or "FAIL". A protocol error is a result beyond the expected ones, or results
// missing when the cycle limit (40 cycles per beat + 10,000) is reached.
`timescale 1ns/1ps

`ifdef HAS_RM
`define WRM 3
`else
`define WRM 0
`endif

module plain_stream_tb;
  localparam WI = `WI, WO = `WO, NB = `NBMAX, NR = `NRMAX, WB = WI + `WRM;

  reg [WB-1:0] beats [0:NB-1];
  reg [WO-1:0] expect_ [0:NR-1];
  reg [8*1024-1:0] beats_path, expect_path;
  integer nb, nr, idle, stall, bi, ri, checked, bad, errors, cycles, limit, tail;
  reg [31:0] state;

  reg clk = 0, rst = 1, hold = 0;
  reg i_valid = 0, o_ready = 0;
  reg [WI-1:0] i_payload = 0;
  wire i_ready, o_valid;
  wire [WO-1:0] o_payload;
`ifdef HAS_RM
  reg [2:0] rm = 0;
`endif

  `DUT dut (
    .clk(clk), .rst(rst),
    .i__valid(i_valid), .i__ready(i_ready), .i__payload(i_payload),
    .o__valid(o_valid), .o__ready(o_ready), .o__payload(o_payload)
`ifdef HAS_RM
    , .rm(rm)
`endif
  );

  // xorshift32: the idle and stall pattern, the same on every simulator
  function [31:0] next_state(input [31:0] s);
    reg [31:0] x;
    begin
      x = s ^ (s << 13);
      x = x ^ (x >> 17);
      next_state = x ^ (x << 5);
    end
  endfunction

  initial begin
    if (!$value$plusargs("beats=%s", beats_path) || !$value$plusargs("nb=%d", nb) ||
        !$value$plusargs("expect=%s", expect_path) || !$value$plusargs("nr=%d", nr)) begin
      $display("plain_stream_tb: needs +beats=FILE +nb=N +expect=FILE +nr=N");
      $finish;
    end
    if (!$value$plusargs("idle=%d", idle)) idle = 0;
    if (!$value$plusargs("stall=%d", stall)) stall = 0;
    if (!$value$plusargs("seed=%d", state)) state = 1;
    if (state == 0) state = 1;
    $readmemh(beats_path, beats, 0, nb - 1);
    $readmemh(expect_path, expect_, 0, nr - 1);
    bi = 0; ri = 0; checked = 0; bad = 0; errors = 0; cycles = 0; tail = 0;
    limit = 40 * nb + 10000;
    repeat (3) begin #5 clk = 1; #5 clk = 0; end
    rst = 0;
    forever begin
      // inputs for this cycle, set away from the edge
      state = next_state(state);
      // a beat offered stays offered, unchanged, until it is taken
      if (!hold) i_valid = bi < nb && (state % 100) >= idle;
      if (bi < nb && !hold) begin
        i_payload = beats[bi][WI-1:0];
`ifdef HAS_RM
        rm = beats[bi][WB-1:WI];
`endif
      end
      state = next_state(state);
      o_ready = (state % 100) >= stall;
      #5 clk = 1;
      // the handshakes of this edge, seen with the values from before it
      hold = i_valid && !i_ready;
      if (i_valid && i_ready) bi = bi + 1;
      if (o_valid && o_ready) begin
        if (ri >= nr) begin
          errors = errors + 1;
          if (errors <= 10) $display("protocol error: result %0d beyond the %0d expected", ri, nr);
        end else begin
          checked = checked + 1;
          if (o_payload !== expect_[ri]) begin
            bad = bad + 1;
            if (bad <= 10) $display("mismatch %0d: got %h expected %h", ri, o_payload, expect_[ri]);
          end
        end
        ri = ri + 1;
      end
      #5 clk = 0;
      cycles = cycles + 1;
      if (ri >= nr) tail = tail + 1;           // watch for extra results a while
      if (tail > 200 || cycles > limit) begin
        if (ri < nr) begin
          errors = errors + 1;
          $display("protocol error: %0d of %0d results after %0d cycles", ri, nr, cycles);
        end
        $display("plain_stream_tb: %0d results checked, %0d mismatches, %0d protocol errors",
                 checked, bad, errors);
        $display("%s", (bad == 0 && errors == 0 && checked == nr) ? "PASS" : "FAIL");
        $finish;
      end
    end
  end
endmodule
