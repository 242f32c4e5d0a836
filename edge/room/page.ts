/**
 * The waiting room's page for browsers (GET /queue/{ticket}): where the buyer stands, moving as
 * the queue moves, and the order placed by itself once the room admits it. No framework, no
 * asset to fetch: a string, so Workers, Bun and Deno serve it alike. It polls the JSON the API
 * gives (GET /v1/queue/{ticket}) as often as that answer asks.
 */
export const roomPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>In the queue · Flux-Gate</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.4rem; }
  .big { font-size: 3rem; font-weight: 700; margin: .5rem 0; }
  .muted { color: #5b6475; }
  button { font: inherit; padding: .4rem .9rem; margin: .2rem .4rem .2rem 0; cursor: pointer; }
  #result.ok { color: #0a7a2f; } #result.refused { color: #b42318; }
</style>
</head>
<body>
<h1 id="title">You are in the queue</h1>
<p class="muted">Keep this page open: your place is kept, and your order goes through as soon as it is your turn.</p>
<div class="big" id="ahead">…</div>
<p id="state" data-state="">Looking up your place…</p>
<p id="wait" class="muted"></p>
<div id="elsewhere"></div>
<p id="result" role="status"></p>
<script>
(() => {
  let ticket = decodeURIComponent(location.pathname.split("/").pop());
  let done = false;
  const $ = (id) => document.getElementById(id);
  const say = (state, text) => { $("state").dataset.state = state; $("state").textContent = text; };

  async function order(region) {
    const query = region ? "?region=" + encodeURIComponent(region) : "";
    const response = await fetch("/v1/queue/" + encodeURIComponent(ticket) + "/order" + query, {
      method: "POST", headers: { Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 202 && body.ticket) {
      // Still (or newly) queued, maybe in another region: follow that ticket.
      ticket = body.ticket;
      history.replaceState(null, "", body.links.page);
      return show(body);
    }
    if (response.status === 503 || response.status === 429 || body.code === "idempotency_key_in_use") {
      // Not refused, only not now: the admission still stands; look again in a moment.
      say("admitted", "It is your turn: the order is on its way…");
      return;
    }
    done = true;
    $("ahead").textContent = "";
    $("elsewhere").textContent = "";
    if (response.ok) {
      $("title").textContent = "Your order went through";
      $("result").className = "ok";
      $("result").textContent = "Order " + body.orderId + ": " + body.status + " in " + body.region + ".";
      say("ordered", "Done.");
    } else {
      $("title").textContent = "Your order was not placed";
      $("result").className = "refused";
      $("result").textContent = (body.code || response.status) + ": " + (body.detail || body.title || "");
      say("refused", "");
    }
  }

  function show(s) {
    $("elsewhere").textContent = "";
    $("wait").textContent = "";
    switch (s.state) {
      case "waiting":
        $("ahead").textContent = s.ahead.toLocaleString();
        say("waiting", s.ahead === 1 ? "buyer ahead of you" : "buyers ahead of you");
        if (s.estimatedWaitSeconds !== null) $("wait").textContent = "About " + s.estimatedWaitSeconds + " s to go.";
        break;
      case "lobby":
        $("ahead").textContent = "…";
        say("lobby", "The sale has not started. Everyone here now gets a place drawn at random when it does.");
        break;
      case "admitted":
        $("ahead").textContent = "0";
        say("admitted", "It is your turn: placing your order…");
        return order();
      case "sold_out":
        $("ahead").textContent = "";
        say("sold_out", "Sold out in " + s.region + " for now. Units held by others may come back; stay to keep your place.");
        for (const other of s.elsewhere) {
          const button = document.createElement("button");
          button.textContent = "Try " + other.region + " (" + other.available + " left)";
          button.onclick = () => order(other.region);
          $("elsewhere").append(button);
        }
        break;
      default:
        done = true;
        $("ahead").textContent = "";
        say(s.state, s.state === "expired"
          ? "Your turn came and passed: order again to join the queue."
          : s.state === "used" ? "This order was placed already." : "This ticket has no place in the queue.");
    }
  }

  async function poll() {
    if (done) return;
    let wait = 1000;
    try {
      const response = await fetch("/v1/queue/" + encodeURIComponent(ticket), { headers: { Accept: "application/json" } });
      const body = await response.json();
      if (response.ok) { await show(body); wait = body.pollAfterMs; }
      else if (response.status === 429) wait = 1000 * Number(response.headers.get("Retry-After") || 1);
      else if (response.status === 404) { done = true; say("invalid", body.detail || "This ticket is not valid."); }
    } catch { /* the network blinked: look again */ }
    if (!done) setTimeout(poll, wait);
  }
  poll();
})();
</script>
</body>
</html>
`;
