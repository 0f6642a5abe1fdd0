// translucent's browser terminal: xterm.js over a WebSocket that carries
// telnet, so that the server serves a browser as it serves any telnet
// client. This is a minimal telnet client: it takes the server's ECHO and
// SGA (the server edits lines; keystrokes go raw, one at a time), reports
// the window size (NAWS) and refuses every other option.
"use strict";
(function () {
  const IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, SE = 240;
  const ECHO = 1, SGA = 3, NAWS = 31;

  const term = new Terminal({ cursorBlink: true, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById("terminal"));
  fit.fit();
  window.addEventListener("resize", () => fit.fit());

  // What the end-to-end test reads: how many WebSockets this page opened,
  // whether one is open, and the terminal's text.
  const status = (window.translucent = {
    opens: 0,
    open: false,
    text() {
      const b = term.buffer.active, lines = [];
      for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
      return lines.join("\n");
    },
  });

  let ws = null;
  let naws = false; // we said WILL NAWS and the server wants it
  let remote = {}; // options we said DO to (the server's ECHO, SGA)
  let refused = {}; // options we said DONT or WONT to, so as not to repeat
  let state = "data", cmd = 0; // the parser, across messages

  function send(bytes) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(new Uint8Array(bytes));
  }

  function sendSize() {
    if (!naws) return;
    const b = [IAC, SB, NAWS];
    for (const v of [term.cols >> 8, term.cols & 255, term.rows >> 8, term.rows & 255]) {
      b.push(v);
      if (v === IAC) b.push(IAC);
    }
    b.push(IAC, SE);
    send(b);
  }

  function refuse(verb, opt) {
    const k = verb + ":" + opt;
    if (refused[k]) return;
    refused[k] = true;
    send([IAC, verb, opt]);
  }

  function negotiate(verb, opt) {
    switch (verb) {
      case DO:
        if (opt === NAWS) {
          if (!naws) { naws = true; send([IAC, WILL, NAWS]); }
          sendSize();
        } else refuse(WONT, opt);
        break;
      case DONT:
        if (opt === NAWS && naws) { naws = false; send([IAC, WONT, NAWS]); }
        break;
      case WILL:
        if (opt === ECHO || opt === SGA) {
          if (!remote[opt]) { remote[opt] = true; send([IAC, DO, opt]); }
        } else refuse(DONT, opt);
        break;
      case WONT:
        if (remote[opt]) { remote[opt] = false; send([IAC, DONT, opt]); }
        break;
    }
  }

  // receive strips telnet's commands from what the server sent and writes
  // the rest to the terminal.
  function receive(bytes) {
    const out = [];
    for (const b of bytes) {
      switch (state) {
        case "data":
          if (b === IAC) state = "iac"; else out.push(b);
          break;
        case "iac":
          if (b === IAC) { out.push(IAC); state = "data"; }
          else if (b >= WILL && b <= DONT) { cmd = b; state = "opt"; }
          else if (b === SB) state = "sb";
          else state = "data"; // NOP, GA, DM...: nothing to do
          break;
        case "opt":
          negotiate(cmd, b);
          state = "data";
          break;
        case "sb": // a subnegotiation we did not ask for: skip it
          if (b === IAC) state = "sbiac";
          break;
        case "sbiac":
          state = b === SE ? "data" : "sb";
          break;
      }
    }
    if (out.length) term.write(new Uint8Array(out));
  }

  const encoder = new TextEncoder();
  term.onData((s) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      if (s === "\r" && (!ws || ws.readyState === WebSocket.CLOSED)) connect();
      return;
    }
    const b = [];
    for (const c of encoder.encode(s)) {
      b.push(c);
      if (c === IAC) b.push(IAC);
      if (c === 13) b.push(0); // a bare CR is CR NUL in telnet
    }
    // Large pastes go in pieces under the server's message limit.
    for (let i = 0; i < b.length; i += 16384) send(b.slice(i, i + 16384));
  });
  term.onResize(sendSize);

  function connect() {
    naws = false; remote = {}; refused = {}; state = "data";
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { status.opens++; status.open = true; };
    ws.onmessage = (e) => receive(new Uint8Array(e.data));
    ws.onclose = (e) => {
      status.open = false;
      term.write("\r\n\x1b[1;31m[disconnected" + (e.code && e.code !== 1006 ? " (" + e.code + ")" : "") +
        ": press Enter to connect again]\x1b[0m\r\n");
    };
    term.focus();
  }
  connect();
})();
