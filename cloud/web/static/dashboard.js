// The manager dashboard, live: when a ticket event comes on the event stream, the parts it
// may change are fetched again (HTML fragments) and swapped in, without reloading the page.
// A part is left alone while someone writes in one of its forms, and swapped once they are done.
(() => {
  "use strict";
  const main = document.querySelector("main[data-live]");
  if (!main) return;
  const parts = main.dataset.live.split(" ");
  const query = main.dataset.query ? `?${main.dataset.query}` : "";
  const state = document.getElementById("live-state");
  const waiting = new Set();
  let timer = null;

  const busy = (section) => {
    const active = document.activeElement;
    if (active && section.contains(active) && active.closest("form")) return true;
    return [...section.querySelectorAll("input[name=note]")].some((field) => field.value);
  };

  const refresh = async (part) => {
    const section = document.getElementById(part);
    if (!section) return;
    if (busy(section)) {
      waiting.add(part);
      return;
    }
    waiting.delete(part);
    try {
      const answer = await fetch(`/dashboard/fragments/${part}${query}`, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (answer.status === 401) {
        location.assign("/login");
        return;
      }
      if (answer.ok && !busy(section)) section.innerHTML = await answer.text();
    } catch (error) {
      waiting.add(part); // the network failed: try again with the next event or tick
    }
  };

  const refreshAll = () => parts.forEach(refresh);
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(refreshAll, 300); // events come in bursts: one fetch for a burst
  };

  // A part left alone while someone wrote is refreshed when they leave its form.
  main.addEventListener("focusout", () => setTimeout(() => [...waiting].forEach(refresh), 0));
  // Health and gateway status change without ticket events too: a slow refresh covers them.
  setInterval(refreshAll, 60000);

  if (window.EventSource) {
    const live = new EventSource("/api/v1/events/stream");
    for (const kind of main.dataset.kinds.split(" ")) live.addEventListener(kind, soon);
    live.addEventListener("open", () => {
      if (state) state.textContent = main.dataset.liveOn;
    });
    live.addEventListener("error", () => {
      if (state) state.textContent = main.dataset.liveOff;
    });
  }
})();
