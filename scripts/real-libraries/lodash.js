// scope's real-libraries check (run.sh): lodash's chunk, merge, debounce, template, sortBy, cloneDeep, isEqual.
const _ = require("lodash");
console.log(_.chunk([1,2,3,4,5],2), _.merge({a:{b:1}},{a:{c:2}}), _.debounce(()=>{},10).cancel && "deb", _.template("hi <%= x %>")({x:1}), _.sortBy([{a:3},{a:1}],"a"), _.cloneDeep(new Map([[1,{a:1}]])).size, _.isEqual({a:[1]},{a:[1]}));
