// parts/tile-store.wgsl — the end of a register-tile kernel's body (parts/tiles.wgsl): cell
// (r, c) of the tile, at row row0 + r·WG_Y and column col0 + c·WG_X, is stored unless it lies
// past rowEnd or colEnd. The including template sets `store`, a statement that writes `value`,
// the cell at (`row`, `col`).
let accs = array<vec4<f32>, {ROWS * COLS / 4}>({each r < ROWS, h < COLS / 4: acc{r}_{h}});
for (var r = 0u; r < {ROWS}u; r++) {
  let row = row0 + r * WG_Y;
  if (row >= {rowEnd}) {
    break;
  }
  for (var c = 0u; c < {COLS}u; c++) {
    let col = col0 + c * WG_X;
    if (col < {colEnd}) {
      let value = accs[{COLS / 4}u * r + c / 4u][c & 3u];
      {store}
    }
  }
}
