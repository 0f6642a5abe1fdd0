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
    watching: "", // the session id the page typed :watch for
    text() {
      const b = term.buffer.active, lines = [];
      for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
      return lines.join("\n");
    },
  });

  // A watch view (/?watch=ID): once the user has logged in, as always,
  // the page types :watch ID for them. Only a session id is ever typed: a
  // link must not be able to make its visitor run code.
  const watchParam = new URLSearchParams(location.search).get("watch");
  const watchID = watchParam !== null && /^[0-9]{1,19}$/.test(watchParam) ? watchParam : "";
  const banner = document.getElementById("banner");
  // Per connection: "username", "password" (its prompt seen), "asked"
  // (:watch typed, its answer awaited), then "watching" or "refused", and
  // "ended" once the user pressed a key that ends a watch.
  let watchStage = "";
  let refusal = ""; // the server's answer to a refused :watch

  // say shows parts (strings, and [code] for a command) in the banner
  // above the terminal, and leaves the terminal the rest of the window.
  function say(error, ...parts) {
    banner.replaceChildren(...parts.map((p) => {
      if (typeof p === "string") return p;
      const c = document.createElement("code");
      c.textContent = p[0];
      return c;
    }));
    banner.className = error ? "error" : "";
    banner.hidden = false;
    document.getElementById("terminal").style.top = banner.offsetHeight + "px";
    fit.fit();
  }

  if (watchParam !== null && !watchID) {
    say(true, "Nothing to watch: “" + watchParam + "” is not a session id (a number, as ", [":who"], " lists them). This is a plain terminal.");
  }
  function watchBanner() {
    if (!watchID) return;
    switch (watchStage) {
      case "watching":
        say(false, "Watching session " + watchID + ", read only: nothing you type reaches it. Enter or Ctrl-C ends the watch and gives you your own prompt.");
        break;
      case "refused":
        say(true, "Session " + watchID + " cannot be watched: " + refusal + " This is your own session.");
        break;
      case "ended":
        say(false, "The watch of session " + watchID + " has ended: this is your own session. Reload the page to watch it again.");
        break;
      case "asked":
        say(false, "Asking to watch session " + watchID + "…");
        break;
      default:
        say(false, "Log in to watch session " + watchID + ", read only: once you are logged in, this page types ", [":watch " + watchID], " for you.");
    }
  }
  watchBanner();

  // loggedIn follows the login dialogue in what the server sends (the
  // decoded text, tail carried across messages), types :watch ID at the
  // first prompt after a password (an echoed user name cannot pass for
  // it, since "username: " starts the dialogue again), and reads the
  // server's answer, the first line after the command's echo: what the
  // watched session shows comes only after it.
  let tail = "";
  let decoder = new TextDecoder();
  function loggedIn(bytes) {
    if (!watchID || !["username", "password", "asked"].includes(watchStage)) return;
    let text = tail + decoder.decode(bytes, { stream: true });
    for (;;) {
      if (watchStage === "asked") {
        const m = /\n(watching session |error: )([^\r\n]*)\r?\n/.exec(text);
        if (!m) break;
        refusal = m[1] === "error: " ? m[2] : "";
        watchStage = refusal ? "refused" : "watching";
        watchBanner();
        return;
      }
      const want = watchStage === "password" ? ">>> " : "password: ";
      const i = text.indexOf(want), u = text.indexOf("username: ");
      if (u >= 0 && (i < 0 || u < i)) {
        watchStage = "username";
        text = text.slice(u + 10);
        continue;
      }
      if (i < 0) break;
      text = text.slice(i + want.length);
      if (watchStage !== "password") {
        watchStage = "password";
        continue;
      }
      watchStage = "asked";
      typeIn(":watch " + watchID + "\r");
      watchBanner();
      status.watching = watchID;
    }
    // Keep what a marker split across two messages needs; an answer is
    // kept whole until its line ends.
    tail = watchStage === "asked" ? text.slice(-4096) : text.slice(-10);
  }

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
    if (out.length) {
      term.write(new Uint8Array(out));
      loggedIn(new Uint8Array(out));
    }
  }

  const encoder = new TextEncoder();
  term.onData((s) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      if (s === "\r" && (!ws || ws.readyState === WebSocket.CLOSED)) connect();
      return;
    }
    // The server ends a watch at Enter, Ctrl-C or Ctrl-D (repl/watch.go).
    if (watchStage === "watching" && /[\r\x03\x04]/.test(s)) {
      watchStage = "ended";
      watchBanner();
    }
    typeIn(s);
  });
  term.onResize(sendSize);

  // typeIn sends s as keys typed, in telnet.
  function typeIn(s) {
    const b = [];
    for (const c of encoder.encode(s)) {
      b.push(c);
      if (c === IAC) b.push(IAC);
      if (c === 13) b.push(0); // a bare CR is CR NUL in telnet
    }
    // Large pastes go in pieces under the server's message limit.
    for (let i = 0; i < b.length; i += 16384) send(b.slice(i, i + 16384));
  }

  function connect() {
    naws = false; remote = {}; refused = {}; state = "data";
    if (watchID) { watchStage = "username"; tail = ""; decoder = new TextDecoder(); watchBanner(); }
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
