// parts/tile-step.wgsl — one step of a register-tile matrix product (parts/tiles.wgsl), included
// inside the loop over the shared dimension. The including template sets `rowLoad`, the row
// operand of tile row {r}, and `colLoad`, the column operand of tile column {c}. Each is loaded
// once per step: the column operands four to a vec4 (b{h}: columns 4h … 4h + 3), each row
// operand splat over a vec4 that multiplies every b{h} of its row.
//#each h < COLS / 4: let b{h} = vec4<f32>({each c in 4 * h..4 * h + 4: {colLoad}});
//#each r < ROWS
let a{r} = vec4<f32>({rowLoad});
//#each h < COLS / 4: acc{r}_{h} = fma(a{r}, b{h}, acc{r}_{h});
//#end
