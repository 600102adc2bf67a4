// The new-alarm cue, shared by the alarm list and the overview. When an alarm that is not
// acknowledged appears and the page had not seen it, the page sounds a two-tone chime made
// by the browser (Web Audio: generated, no sound file, nothing fetched), repeated until
// the operator silences it or acknowledges the alarm, shows a banner naming the feeder,
// and puts the count of alarms not acknowledged in the tab's title.
//
// Browsers let a page make sound only after a click or key press on it, so the page says
// when its sound is off and offers a button; any click or key press turns it on.
// #alarm-cue's data-cues counts cues started and data-tone says what the sound did
// ("playing", "blocked", "silenced", "idle"), for the operator's tools and the tests.

const REPEAT_MS = 4000;
const NOTES = [
  { hz: 880, at: 0, length: 0.22 },
  { hz: 660, at: 0.28, length: 0.3 },
];

export function alarmCue() {
  const box = document.getElementById("alarm-cue");
  const text = document.getElementById("alarm-cue-text");
  const soundState = document.getElementById("sound-state");
  const initial = document.getElementById("alarm-keys");
  const baseTitle = document.title;
  let audio = null;
  let timer = null;
  let sounding = new Set();
  const fresh = new Set();
  const seen = new Set(initial ? JSON.parse(initial.textContent).map((alarm) => alarm.key) : []);

  function audioContext() {
    if (!audio) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      audio = new Context();
      audio.addEventListener("statechange", showSoundState);
    }
    return audio;
  }

  function showSoundState() {
    if (soundState) soundState.hidden = Boolean(audio && audio.state === "running");
  }

  async function enableSound() {
    const context = audioContext();
    if (context && context.state !== "running") {
      try {
        await context.resume();
      } catch (error) {
        console.warn(error);
      }
    }
    showSoundState();
  }

  function chime() {
    const context = audio;
    if (!context || context.state !== "running") {
      box.dataset.tone = "blocked";
      showSoundState();
      return;
    }
    const start = context.currentTime + 0.02;
    for (const note of NOTES) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = note.hz;
      // A soft attack and release: a chime, not a click, at three in the morning.
      gain.gain.setValueAtTime(0, start + note.at);
      gain.gain.linearRampToValueAtTime(0.2, start + note.at + 0.02);
      gain.gain.linearRampToValueAtTime(0, start + note.at + note.length);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start + note.at);
      oscillator.stop(start + note.at + note.length + 0.05);
    }
    box.dataset.tone = "playing";
    box.dataset.chimes = String(Number(box.dataset.chimes || 0) + 1);
  }

  function stop(state) {
    clearInterval(timer);
    timer = null;
    sounding = new Set();
    box.hidden = true;
    box.dataset.tone = state;
    document.body.classList.remove("alarm-new");
  }

  function start(alarms) {
    alarms.forEach((alarm) => sounding.add(alarm.key));
    const names = alarms.map((alarm) => alarm.feeder).join(", ");
    text.textContent = `New alarm${alarms.length === 1 ? "" : "s"}: ${names}`;
    box.hidden = false;
    box.dataset.cues = String(Number(box.dataset.cues || 0) + 1);
    document.body.classList.add("alarm-new");
    clearInterval(timer);
    chime();
    timer = setInterval(chime, REPEAT_MS);
  }

  // `unacknowledged`: every alarm not acknowledged now, [{key, feeder}], from the server.
  function observe(unacknowledged) {
    const now = new Set(unacknowledged.map((alarm) => alarm.key));
    const arrived = unacknowledged.filter((alarm) => !seen.has(alarm.key));
    arrived.forEach((alarm) => {
      seen.add(alarm.key);
      fresh.add(alarm.key);
    });
    for (const key of [...fresh]) if (!now.has(key)) fresh.delete(key);
    document.title = now.size ? `(${now.size}) ${baseTitle}` : baseTitle;
    if (arrived.length) {
      start(arrived);
    } else if (sounding.size && ![...sounding].some((key) => now.has(key))) {
      stop("idle"); // everything it was sounding for is acknowledged or cleared
    }
  }

  document.getElementById("alarm-silence").addEventListener("click", () => stop("silenced"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && timer) stop("silenced");
  });
  const enable = document.getElementById("sound-enable");
  if (enable) enable.addEventListener("click", enableSound);
  document.addEventListener("pointerdown", enableSound);
  document.addEventListener("keydown", enableSound);
  if (soundState) soundState.hidden = false;
  document.title = seen.size ? `(${seen.size}) ${baseTitle}` : baseTitle;

  return { observe, isFresh: (key) => fresh.has(key) };
}
