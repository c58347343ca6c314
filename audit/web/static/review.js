// callaudit review page: click a turn, a flag or the timeline to play from there; follow playback.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) return;
  var turns = Array.prototype.slice.call(document.querySelectorAll("li.turn[data-start]"));
  var cursor = document.getElementById("cursor");

  function playFrom(seconds) {
    player.currentTime = seconds;
    var p = player.play();
    if (p && p.catch) p.catch(function () { /* autoplay refused: the position is still set */ });
  }

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-start]");
    if (!el || el.closest("form")) return;
    if (el.tagName === "A") ev.preventDefault();
    playFrom(parseFloat(el.getAttribute("data-start")));
    if (el.tagName === "A" && el.hash) history.replaceState(null, "", el.hash);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target.matches && ev.target.matches("li.turn[data-start]")) {
      playFrom(parseFloat(ev.target.getAttribute("data-start")));
    }
  });

  player.addEventListener("timeupdate", function () {
    var t = player.currentTime;
    if (cursor && player.duration) cursor.style.left = (100 * t / player.duration) + "%";
    turns.forEach(function (li) {
      var on = t >= parseFloat(li.dataset.start) && t < parseFloat(li.dataset.end);
      li.classList.toggle("playing", on);
    });
  });
})();
