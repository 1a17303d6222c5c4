// The map's tile layers, painted once onto an off-screen canvas (so a frame costs one
// image copy, not thousands of tiles), and its animated sprites on top, frame by frame.

const FRAME_MS = 120;

export class MapPainter {
  constructor() {
    this.images = new Map();
    this.map = null;
    this.layers = null;  // the painted tiles, or null until the tile set has loaded
    this.sprites = [];   // {x, y, w, h, frames: [{image, x, y, w, h}]}
    this.framesShown = 0;
  }

  image(url) {
    if (!this.images.has(url)) {
      const img = new Image();
      img.src = url;
      this.images.set(url, img);
    }
    return this.images.get(url);
  }

  setMap(map) {
    if (this.map && JSON.stringify(this.map) === JSON.stringify(map)) return;
    this.map = map;
    this.layers = null;
    this.sprites = [];
    const sheet = this.image(map.tileSetUrl);
    if (sheet.complete && sheet.naturalWidth) this.paint(sheet);
    else sheet.addEventListener("load", () => this.map === map && this.paint(sheet), { once: true });
    for (const sprite of map.animatedSprites || []) this.loadSprite(sprite, map);
  }

  paint(sheet) {
    const map = this.map;
    const tile = map.tileDim;
    const columns = Math.max(1, Math.floor(map.tileSetDimX / tile));
    const layers = document.createElement("canvas");
    layers.width = map.width * tile;
    layers.height = map.height * tile;
    const g = layers.getContext("2d");
    g.imageSmoothingEnabled = false;
    for (const layer of [...map.bgTiles, ...map.objectTiles]) {
      for (let x = 0; x < map.width; x++) {
        for (let y = 0; y < map.height; y++) {
          const index = layer[x][y];
          if (index < 0) continue;
          g.drawImage(sheet, (index % columns) * tile, Math.floor(index / columns) * tile,
                      tile, tile, x * tile, y * tile, tile, tile);
        }
      }
    }
    this.layers = layers;
  }

  // AI Town's sprite entries name a sprite-sheet description (frames and animations) and
  // an animation in it; the sheet's image sits next to the description.
  async loadSprite(sprite, map) {
    try {
      const url = new URL(sprite.sheet, new URL("/assets/", location.href));
      const sheet = await (await fetch(url)).json();
      const image = this.image(new URL(sheet.meta.image, url).href);
      const names = sheet.animations[sprite.animation] || Object.keys(sheet.frames);
      const frames = names.map((name) => ({ image, ...sheet.frames[name].frame }));
      if (this.map === map) this.sprites.push({ ...sprite, frames });
    } catch (error) {
      console.warn("smalltown: an animated sprite could not be loaded:", sprite.sheet, error);
    }
  }

  draw(ctx, now) {
    if (this.layers) ctx.drawImage(this.layers, 0, 0);
    for (const sprite of this.sprites) {
      const frame = sprite.frames[Math.floor(now / FRAME_MS) % sprite.frames.length];
      if (!frame.image.complete) continue;
      ctx.drawImage(frame.image, frame.x, frame.y, frame.w, frame.h,
                    sprite.x, sprite.y, sprite.w, sprite.h);
      this.framesShown += 1;
    }
  }
}
