// The simulated board of hwgen/flow/simulated_board.py: a Verilated HostLinkCore (class Vtop, ports
// clk, rst, rx, tx) with a UART model (8N1, LSB first, `divisor` clocks per bit) on both lines,
// driven in lock step by the Python transport over stdin/stdout.
//
// Requests on stdin (integers little-endian):
//   'W' u32 n, n bytes      queue n bytes for the board's rx line (sent while the clock runs)
//   'R' u32 n, u64 cycles   run until n bytes have come from the board's tx line or `cycles`
//                           clocks have passed; answer u32 k, then k bytes (k <= n)
//   'D'                     drop the bytes received and not yet read
//   'S'                     answer u64 cycles, u64 bytes sent to the board, u64 bytes from it,
//                           u64 framing errors
//   'Q'                     stop
// Time advances only inside 'R': the board is frozen while the host thinks, as in cocotb.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

namespace {

Vtop *top;
uint64_t cycles = 0;

void tick() {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
    ++cycles;
}

// Host -> board: one bit per `divisor` clocks, idle high.
struct Source {
    uint32_t divisor;
    std::deque<uint8_t> queue;
    int bit = -1;            // -1 idle; 0 start bit; 1..8 data; 9 stop bit
    uint32_t count = 0;      // clocks left in this bit
    uint8_t byte = 0;
    uint64_t sent = 0;

    uint8_t line() {
        if (bit < 0) {
            if (queue.empty()) return 1;
            byte = queue.front();
            queue.pop_front();
            bit = 0;
            count = divisor;
        }
        uint8_t level = bit == 0 ? 0 : bit == 9 ? 1 : (byte >> (bit - 1)) & 1;
        if (--count == 0) {
            count = divisor;
            if (++bit == 10) {
                bit = -1;
                ++sent;
            }
        }
        return level;
    }
};

// Board -> host: waits for a falling edge, samples each bit in its middle.
struct Sink {
    uint32_t divisor;
    std::deque<uint8_t> data;
    int bit = -1;            // -1 idle; 0 start bit; 1..8 data; 9 stop bit
    uint32_t count = 0;
    uint8_t byte = 0;
    uint8_t last = 1;
    uint64_t received = 0, framing_errors = 0;

    void sample(uint8_t level) {
        if (bit < 0) {
            if (last == 1 && level == 0) {
                bit = 0;
                count = divisor / 2;
            }
        } else if (--count == 0) {
            count = divisor;
            if (bit == 0) {
                if (level != 0) bit = -2;                  // a glitch: back to idle
                byte = 0;
            } else if (bit <= 8) {
                byte |= level << (bit - 1);
            } else {
                if (level == 1) {
                    data.push_back(byte);
                    ++received;
                } else {
                    ++framing_errors;
                }
                bit = -2;
            }
            ++bit;
        }
        last = level;
    }
};

bool get(void *p, size_t n) { return std::fread(p, 1, n, stdin) == n; }
void put(const void *p, size_t n) { std::fwrite(p, 1, n, stdout); }

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DIVISOR\n", argv[0]);
        return 2;
    }
    Verilated::commandArgs(argc, argv);
    uint32_t divisor = (uint32_t)std::strtoul(argv[1], nullptr, 10);
    top = new Vtop;
    Source src{divisor};
    Sink snk{divisor};
    top->rx = 1;
    top->rst = 1;
    for (int i = 0; i < 4; ++i) tick();
    top->rst = 0;
    tick();
    for (;;) {
        int cmd = std::fgetc(stdin);
        if (cmd == EOF || cmd == 'Q') break;
        if (cmd == 'W') {
            uint32_t n;
            if (!get(&n, 4)) break;
            std::vector<uint8_t> buf(n);
            if (n && !get(buf.data(), n)) break;
            src.queue.insert(src.queue.end(), buf.begin(), buf.end());
        } else if (cmd == 'R') {
            uint32_t n;
            uint64_t limit;
            if (!get(&n, 4) || !get(&limit, 8)) break;
            for (uint64_t c = 0; snk.data.size() < n && c < limit; ++c) {
                top->rx = src.line();
                tick();
                snk.sample(top->tx);
            }
            uint32_t k = snk.data.size() < n ? (uint32_t)snk.data.size() : n;
            put(&k, 4);
            for (uint32_t i = 0; i < k; ++i) {
                uint8_t b = snk.data.front();
                snk.data.pop_front();
                put(&b, 1);
            }
        } else if (cmd == 'D') {
            snk.data.clear();
        } else if (cmd == 'S') {
            uint64_t stats[4] = {cycles, src.sent, snk.received, snk.framing_errors};
            put(stats, sizeof stats);
        } else {
            std::fprintf(stderr, "simulated board: unknown request 0x%02x\n", cmd);
            return 2;
        }
        std::fflush(stdout);
    }
    top->final();
    delete top;
    return 0;
}
