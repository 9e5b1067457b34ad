/*
 * The agent's browser phone: JsSIP over WebSocket to Kamailio, media through rtpengine.
 *
 * Mount it on an element that carries its settings and its words (already translated by the
 * page, so every string a person reads comes from the page's catalogue):
 *
 *   <section id="softphone" data-ws-url="wss://sip.example.com:8443"
 *            data-sip-uri="sip:agent-7@callhopper.local" data-password=""
 *            data-auto-answer="true"
 *            data-msg-registering="…" data-msg-registered="…" data-msg-ringing="…"
 *            data-msg-connected="…" data-msg-muted="…" data-msg-mic-denied="…"
 *            data-msg-registration-lost="…" data-msg-call-dropped="…"
 *            data-msg-mute="…" data-msg-unmute="…" data-msg-answer="…" data-msg-hangup="…">
 *   </section>
 *   <script src="/static/vendor/jssip/jssip.min.js"></script>
 *   <script src="/static/js/softphone.js"></script>
 *   <script>const phone = CallhopperSoftphone.mount(document.getElementById("softphone"));</script>
 *
 * It registers at once, shows its state (registered, ringing, connected, muted) in a live
 * region, answers by itself while ``phone.autoAnswer`` is true (the workspace sets it when
 * the agent is ready in an automatic mode), and says clearly when the microphone is refused,
 * the registration is lost or a call drops. ``phone.state`` and the element's
 * ``data-state`` attribute give the state to scripts and tests.
 */
(function () {
  "use strict";

  var STATES = ["registering", "registered", "unregistered", "ringing", "connected"];
  // Once a first ICE candidate is known, how long to wait for more before answering: the
  // answer must not wait for every network interface (or a slow TURN server) to reply, and
  // rtpengine takes any candidate that works.
  var ICE_GATHERING_MS = 1000;

  function Softphone(root) {
    this.root = root;
    this.state = "registering";
    this.muted = false;
    this.autoAnswer = root.dataset.autoAnswer === "true";
    this.session = null;
    this.remoteStream = null;
    this.build();
    this.start();
  }

  Softphone.prototype.msg = function (name) {
    return this.root.dataset["msg" + name] || name;
  };

  Softphone.prototype.build = function () {
    var doc = this.root.ownerDocument;
    this.status = doc.createElement("p");
    this.status.className = "softphone-status";
    this.status.setAttribute("role", "status");
    this.status.setAttribute("aria-live", "polite");
    this.alert = doc.createElement("p");
    this.alert.className = "softphone-alert";
    this.alert.setAttribute("role", "alert");
    this.alert.hidden = true;
    this.answerButton = this.button(this.msg("Answer"), this.answer.bind(this));
    this.muteButton = this.button(this.msg("Mute"), this.toggleMute.bind(this));
    this.hangupButton = this.button(this.msg("Hangup"), this.hangup.bind(this));
    this.audio = doc.createElement("audio");
    this.audio.autoplay = true;
    this.root.append(this.status, this.alert, this.answerButton, this.muteButton,
      this.hangupButton, this.audio);
    this.render();
  };

  Softphone.prototype.button = function (label, action) {
    var b = this.root.ownerDocument.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", action);
    return b;
  };

  Softphone.prototype.setState = function (state) {
    if (STATES.indexOf(state) < 0) {
      throw new Error("unknown softphone state " + state);
    }
    this.state = state;
    this.render();
    this.root.dispatchEvent(new CustomEvent("softphone:state", { detail: state }));
  };

  Softphone.prototype.render = function () {
    var words = {
      registering: this.msg("Registering"),
      registered: this.msg("Registered"),
      unregistered: this.msg("RegistrationLost"),
      ringing: this.msg("Ringing"),
      connected: this.muted ? this.msg("Muted") : this.msg("Connected"),
    };
    this.status.textContent = words[this.state];
    this.root.dataset.state = this.state;
    this.root.dataset.muted = String(this.muted);
    this.answerButton.hidden = this.state !== "ringing";
    this.muteButton.hidden = this.state !== "connected";
    this.muteButton.textContent = this.muted ? this.msg("Unmute") : this.msg("Mute");
    this.muteButton.setAttribute("aria-pressed", String(this.muted));
    this.hangupButton.hidden = this.state !== "connected" && this.state !== "ringing";
  };

  Softphone.prototype.warn = function (text) {
    this.alert.textContent = text;
    this.alert.hidden = !text;
  };

  Softphone.prototype.start = function () {
    var data = this.root.dataset;
    var socket = new JsSIP.WebSocketInterface(data.wsUrl);
    this.ua = new JsSIP.UA({
      sockets: [socket],
      uri: data.sipUri,
      password: data.password || undefined,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: "callhopper softphone",
    });
    var self = this;
    this.ua.on("registered", function () {
      self.warn("");
      if (!self.session) {
        self.setState("registered");
      }
    });
    this.ua.on("unregistered", function () {
      self.lost();
    });
    this.ua.on("registrationFailed", function () {
      self.lost();
    });
    this.ua.on("disconnected", function () {
      self.lost();
    });
    this.ua.on("newRTCSession", function (e) {
      if (e.originator === "remote") {
        self.incoming(e.session);
      }
    });
    this.ua.start();
  };

  Softphone.prototype.lost = function () {
    if (this.state !== "unregistered" && !this.stopping) {
      this.warn(this.msg("RegistrationLost"));
      if (!this.session) {
        this.setState("unregistered");
      }
    }
  };

  Softphone.prototype.incoming = function (session) {
    if (this.session) {
      session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    var self = this;
    this.session = session;
    this.muted = false;
    session.on("peerconnection", function (e) {
      self.watch(e.peerconnection);
    });
    var gathering = null;
    session.on("icecandidate", function (e) {
      if (!gathering) {
        gathering = setTimeout(e.ready, ICE_GATHERING_MS);
      }
    });
    session.on("accepted", function () {
      self.setState("connected");
    });
    session.on("confirmed", function () {
      self.setState("connected");
    });
    session.on("ended", function (e) {
      self.finished(e);
    });
    session.on("failed", function (e) {
      self.finished(e);
    });
    this.setState("ringing");
    if (this.autoAnswer) {
      this.answer();
    }
  };

  Softphone.prototype.watch = function (pc) {
    var self = this;
    pc.addEventListener("track", function (e) {
      self.remoteStream = e.streams[0] || new MediaStream([e.track]);
      self.audio.srcObject = self.remoteStream;
      self.root.dispatchEvent(new CustomEvent("softphone:remote-stream",
        { detail: self.remoteStream }));
    });
  };

  Softphone.prototype.answer = function () {
    if (!this.session || this.state !== "ringing") {
      return;
    }
    this.session.answer({ mediaConstraints: { audio: true, video: false } });
  };

  Softphone.prototype.hangup = function () {
    if (this.session) {
      this.session.terminate();
    }
  };

  Softphone.prototype.toggleMute = function () {
    if (!this.session) {
      return;
    }
    if (this.muted) {
      this.session.unmute({ audio: true });
    } else {
      this.session.mute({ audio: true });
    }
    this.muted = !this.muted;
    this.render();
  };

  Softphone.prototype.finished = function (e) {
    var causes = JsSIP.C.causes;
    this.session = null;
    this.muted = false;
    if (e.cause === causes.USER_DENIED_MEDIA_ACCESS) {
      this.warn(this.msg("MicDenied"));
    } else if (e.originator === "system" ||
        (e.originator === "remote" && e.cause !== causes.BYE && e.cause !== causes.CANCELED)) {
      // Not a hang-up by either party: the network or the media path failed.
      this.warn(this.msg("CallDropped"));
    } else {
      this.warn("");
    }
    this.setState(this.ua.isRegistered() ? "registered" : "unregistered");
  };

  Softphone.prototype.stop = function () {
    this.stopping = true;
    this.hangup();
    this.ua.stop();
  };

  window.CallhopperSoftphone = {
    mount: function (root) {
      return new Softphone(root);
    },
  };
})();
