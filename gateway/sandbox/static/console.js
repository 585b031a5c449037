// The sandbox console: swaps server-rendered fragments when the event stream says something
// changed, and turns clicks into the requests Twilio and Slack would send (the server signs them).
"use strict";
const state = JSON.parse(document.body.dataset.state);
const slackEl = document.getElementById("slack");

function post(url, data) {
  return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                     body: JSON.stringify(data)}).then((r) => r.json().catch(() => ({})));
}

// Keep what someone is typing (and where) across a swap; a modal's inputs only while the view
// is the same version (its hash), so what the service pre-fills shows.
function keyOf(el) {
  const modal = el.closest(".modal");
  if (modal) return "modal:" + modal.dataset.hash + ":" + el.dataset.block;
  return el.hasAttribute("data-keep") ? "keep:" + el.name : null;
}
function swap(el, html) {
  const kept = {};
  let focused = null;
  el.querySelectorAll("input, textarea, select").forEach((input) => {
    const key = keyOf(input);
    if (!key) return;
    kept[key] = input.value;
    if (input === document.activeElement) focused = key;
  });
  const pane = el.querySelector(".pane-body");
  const scroll = pane ? pane.scrollTop : 0;
  const atBottom = pane ? pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40 : true;
  el.innerHTML = html;
  el.querySelectorAll("input, textarea, select").forEach((input) => {
    const key = keyOf(input);
    if (key && key in kept && kept[key] !== "") input.value = kept[key];
    if (key && key === focused) input.focus();
  });
  const newPane = el.querySelector(".pane-body");
  if (newPane) newPane.scrollTop = atBottom ? newPane.scrollHeight : scroll;
}

async function refreshSlack() {
  const r = await fetch(`/sandbox/console/slack?as=${encodeURIComponent(state.as)}` +
                        `&place=${encodeURIComponent(state.place)}`);
  swap(slackEl, await r.text());
  if (state.highlight) {
    const card = slackEl.querySelector(`.msg[data-ts="${state.highlight}"]`);
    if (card) {
      card.classList.add("highlight");
      card.scrollIntoView({block: "center"});
      state.highlight = null;
    }
  }
}
async function refreshPhones() {
  for (const phone of document.querySelectorAll(".phone")) {
    const number = phone.querySelector("[name=phone]").value.trim();
    const r = await fetch(`/sandbox/console/phone?channel=${phone.dataset.channel}` +
                          `&phone=${encodeURIComponent(number)}`);
    const list = phone.querySelector(".phone-messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.innerHTML = await r.text();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}
let pending = null;
function refresh() {
  if (pending) return;
  pending = setTimeout(async () => {
    pending = null;
    await Promise.all([refreshSlack(), refreshPhones()]);
    document.body.dataset.version = String(Number(document.body.dataset.version || 0) + 1);
  }, 60);
}

async function act(data) {
  const answer = await post("/sandbox/console/act", Object.assign({as: state.as}, data));
  refresh();
  return answer;
}

function modalState(modal) {
  const values = {};
  modal.querySelectorAll("[data-block][data-type]").forEach((el) => {
    if (!["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)) return;
    values[el.dataset.block] = {action: el.dataset.action, type: el.dataset.type,
                                value: el.value};
  });
  return values;
}
function containerOf(el) {
  const view = el.closest("[data-view]");
  if (view) return {view_id: view.dataset.view,
                    state: view.classList.contains("modal") ? modalState(view) : {}};
  const msg = el.closest(".msg[data-ts]");
  return msg ? {channel: msg.dataset.channel, ts: msg.dataset.ts} : {};
}
function openPlace(place) {
  state.place = place;
  history.replaceState(null, "", `?as=${encodeURIComponent(state.as)}&place=${encodeURIComponent(place)}`);
  if (place === "home") act({kind: "home"}); else refreshSlack();
}

function openThread(url) {
  const thread = url.match(/archives\/([A-Z0-9]+)\/p(\d+)/);
  if (!thread) return false;
  state.highlight = thread[2].slice(0, -6) + "." + thread[2].slice(-6);
  openPlace(thread[1]);
  return true;
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (link && openThread(link.href)) {  // a thread's link (the supervisors' view): go there
    event.preventDefault();
    return;
  }
  const place = event.target.closest("[data-place]");
  if (place && place.tagName === "A") {
    event.preventDefault();
    openPlace(place.dataset.place);
    return;
  }
  const modalButton = event.target.closest("[data-modal]");
  if (modalButton) {
    const modal = modalButton.closest(".modal");
    if (modalButton.dataset.modal === "submit") {
      act({kind: "submit", view_id: modal.dataset.view, state: modalState(modal)});
    } else {
      act({kind: "close", view_id: modal.dataset.view});
    }
    return;
  }
  const button = event.target.closest("button.bk-button[data-action]");
  if (button) {
    act(Object.assign({kind: "button", action_id: button.dataset.action,
                       block_id: button.dataset.block, value: button.dataset.value,
                       label: button.textContent}, containerOf(button)));
    const url = button.dataset.url || "";
    if (url && !openThread(url)) window.open(url, "_blank", "noopener");
  }
});

document.addEventListener("change", (event) => {
  const select = event.target.closest("select.bk-select[data-dispatch]");
  if (select) {
    act(Object.assign({kind: "select", action_id: select.dataset.action,
                       block_id: select.dataset.block, value: select.value},
                      containerOf(select)));
    return;
  }
  if (event.target.id === "as") {
    state.as = event.target.value;
    openPlace(state.place === "home" || state.place.startsWith("D") ?
              (state.place === "home" ? "home" : "D" + state.as) : state.place);
  }
  if (event.target.name === "phone") refreshPhones();
});

document.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const input = form.querySelector("input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  if (form.classList.contains("phone-compose")) {
    const phone = form.closest(".phone");
    const name = phone.querySelector("[name=name]");
    await post("/sandbox/console/customer", {
      campaign: phone.querySelector("[name=campaign]").value,
      phone: phone.querySelector("[name=phone]").value.trim(),
      name: name ? name.value : "", text});
    refresh();
  } else if (form.classList.contains("reply")) {
    act({kind: "reply", channel: form.dataset.channel, thread_ts: form.dataset.thread, text});
  } else if (form.classList.contains("command")) {
    act({kind: "command", text, place: state.place});
  }
});

const live = document.getElementById("live");
const events = new EventSource("/sandbox/console/stream");
events.addEventListener("change", refresh);
events.onopen = () => live.classList.add("on");
events.onerror = () => live.classList.remove("on");
if (state.place === "home") act({kind: "home"});
